#!/usr/bin/env -S node --max-semi-space-size=64 --no-allocation-site-pretenuring
// A young generation of 64 MB semi-spaces (V8's default is 16): analysis allocates some 1.8 KB a frame in
// short-lived objects, and scavenging them took 7 s of a 5 M-frame analyze; measured there, 64 MB gave
// equal or shorter runs and a peak RSS 300-400 MB lower (fewer objects promoted before they die).
// No allocation-site pretenuring: V8 had judged the flow state's allocation sites long-lived and made
// their objects in the old generation directly, where they died with their flow and waited for a
// mark-compact, on fresh pages (a page fault costs ~15 us on this class of VM). Without it, at 5 M
// frames the analysis thread's scavenges took 1.5-1.6 s instead of 2.2-2.3 s (--trace-gc, two runs
// each, alternated), and at 10 M its mark-compacts 0.6 s instead of 1.2 s, with 200 MB less peak RSS.
// At 20 M frames, alternated: 62 and 70 s against 80 and 92 s, 109-119 CPU-s against 138-150, and the
// same peak RSS (1.30-1.34 GB either way).
// The sources are TypeScript run through tsx's loader: no build step between a checkout and a run.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
