#!/usr/bin/env node
// The sources are TypeScript run through tsx's loader: no build step between a checkout and a run.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
