/*
 * The capture readers and the common-stack decoder (common-stack.ts) fused into one loop, compiled to
 * WebAssembly (build-kernel.ts): classic pcap records (`run`) and pcapng Enhanced Packet Blocks
 * (`run_epb`) of an Ethernet link whose frames are Ethernet,
 * at most one 802.1Q tag, IPv4 with a 20-byte header and no fragmentation or IPv6 without extension
 * headers, then a whole TCP header or a UDP header on a port that names no tunnel.
 *
 * Why: in JavaScript every such record cost ~45 typed-array stores of about a nanosecond each (a
 * field load, a map check and a bounds check apiece) plus the record's trip through PacketRecord,
 * and no single part of it was a hotspot to remove. Here a store is a store.
 *
 * It reads the records where the reader put them and writes the batch's columns where they live:
 * both are in the one WebAssembly memory of the thread (payload-hash-wasm.ts, kernel-memory.ts),
 * addressed by the numbers in `struct run`. It writes whole rows, the columns the JavaScript path
 * leaves to completeFastRows included, and queues each row's payload hash and fingerprint words for
 * the SIMD hash kernel exactly as queueHash does.
 *
 * It stops, leaving the record at `pos` to the JavaScript path, at the first record that needs
 * anything else: a frame of another stack, a length or time field the reader warns about or refuses,
 * a record cut by the end of the buffer; and before a row that would not fit the batch or the queue.
 * Every check comes before the record's first store, so a declined record leaves its row untouched.
 * Every value a reader of the batch sees is the JavaScript decoders' (test/unit/decode/
 * pcap-kernel.test.ts compares them, as Arrow columns, on every capture of the corpus and more).
 *
 * No static data and no stack: the module must not touch memory it was not given addresses in.
 * Addresses are below 2 GiB (the module declares so, build-kernel.ts), so no sum of two wraps.
 */
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

/* the columns' addresses in `struct run`, in the order pcap-kernel.ts lists them (KERNEL_COLUMNS) */
enum {
  C_FRAME,
  C_FILE_OFFSET,
  C_TS,
  C_TS_VALID,
  C_CAPLEN,
  C_WIRELEN,
  C_SRC_MAC,
  C_DST_MAC,
  C_SRC_MAC_VALID,
  C_VLAN_COUNT,
  C_VLAN,
  C_ETHERTYPE,
  C_ETHERTYPE_VALID,
  C_IP_VERSION,
  C_SRC_IP4,
  C_DST_IP4,
  C_SRC_IP6,
  C_DST_IP6,
  C_IP_PROTO,
  C_IP_PROTO_VALID,
  C_IP_ID,
  C_IP_ID_VALID,
  C_TTL,
  C_FRAG_OFFSET,
  C_MORE_FRAGMENTS,
  C_IP_PAYLOAD_LEN,
  C_IP_PAYLOAD_LEN_VALID,
  C_FLOW_LABEL,
  C_FLOW_LABEL_VALID,
  C_DSCP,
  C_DSCP_VALID,
  C_SRC_PORT,
  C_DST_PORT,
  C_PORTS_VALID,
  C_TCP_SEQ,
  C_TCP_ACK,
  C_TCP_FLAGS,
  C_TCP_HDR_LEN,
  C_TCP_WINDOW,
  C_TCP_VALID,
  C_TCP_PAYLOAD_LEN,
  C_TCP_PAYLOAD_LEN_VALID,
  C_PAYLOAD_LEN,
  C_PAYLOAD_LEN_VALID,
  C_PAYLOAD_HASH_VALID,
  C_FINGERPRINT_VALID,
  C_COUNT
};

/* hash queue fields (payload-hash-wasm.ts `F`, `ROW`) */
enum { Q_ADDR = 0, Q_LEN = 1, Q_N_WORDS = 2, Q_W0 = 3, Q_ROW = 13 };

/* why the loop stopped (pcap-kernel.ts `Stop`) */
enum { STOP_MORE = 0, STOP_RECORD = 1, STOP_FULL = 2 };

#define PAYLOAD_HASH_BYTES 64

/* Shared with pcap-kernel.ts (`RunWord`): u32 words, then the f64 at byte 264. */
struct run {
  u32 col[C_COUNT];
  u32 queue_base;  /* address of the queue's first field */
  u32 queue_stride;/* bytes from one field's entries to the next's */
  u32 udp_next;    /* address of a 65536-byte table, non-zero for a tunnel's UDP port */
  u32 pos;         /* address of the next record */
  u32 end;         /* address past the buffer's last byte */
  u32 row;         /* next row of the batch */
  u32 cap;         /* rows the batch holds */
  u32 frame;       /* records read before `pos` */
  u32 qn;          /* queued hashes */
  u32 qlimit;      /* queue entries the kernel may fill */
  u32 big_endian;  /* of the pcap file */
  u32 hdr;         /* record header bytes: 16, or 24 in the modified format */
  u32 mult;        /* ns per unit of the sub-second field */
  u32 frac_limit;
  u32 max_record;
  u32 snaplen;
  u32 stop;
  u32 iface;       /* pcapng: the interface id every EPB taken must name */
  u32 max_block;   /* pcapng: the largest block the reader accepts */
  u32 pad[66 - C_COUNT - 19];
  double base;     /* file offset of address 0: a record's offset is base + its address */
};

_Static_assert(sizeof(struct run) == 66 * 4 + 8, "struct run is 66 words and an f64");

static inline u32 load32(u32 a) {
  u32 v;
  __builtin_memcpy(&v, (const void *)(uintptr_t)a, 4);
  return v;
}

static inline u32 be32(u32 a) { return __builtin_bswap32(load32(a)); }

static inline u32 be16(u32 a) {
  u16 v;
  __builtin_memcpy(&v, (const void *)(uintptr_t)a, 2);
  return __builtin_bswap16(v);
}

static inline u32 u8at(u32 a) { return *(const u8 *)(uintptr_t)a; }

static inline u32 field32(u32 a, u32 big) { return big ? be32(a) : load32(a); }

#define COL(T, i) ((T *)(uintptr_t)r->col[i])

static inline u32 min32(u32 a, u32 b) { return a < b ? a : b; }

/*
 * The frame at [at, end) into row `row`, or 0 with nothing written. The checks are common-stack.ts's,
 * in its order.
 */
static u32 frame_row(struct run *r, u32 at, u32 end, u32 row, u32 qn) {
  if (end - at < 42) return 0;
  u32 type = be16(at + 12);
  u32 ip = at + 14;
  if (type == 0x8100) {
    type = be16(at + 16);
    ip = at + 18;
  }
  u32 w0, w1 = 0, w2 = 0, proto, l4len, ipend, l4;
  if (type == 0x0800) {
    if (end - ip < 28) return 0;
    w0 = be32(ip);
    if (w0 >> 24 != 0x45) return 0;
    u32 total = w0 & 0xffff;
    w1 = be32(ip + 4);
    if (total < 20 || (w1 & 0x3fff) != 0) return 0;
    w2 = be32(ip + 8);
    proto = (w2 >> 16) & 0xff;
    ipend = min32(end, ip + total);
    l4len = total - 20;
    l4 = ip + 20;
  } else if (type == 0x86dd) {
    if (end - ip < 48) return 0;
    w0 = be32(ip);
    l4len = be16(ip + 4);
    proto = u8at(ip + 6);
    if (w0 >> 28 != 6 || l4len == 0 || (proto != 6 && proto != 17)) return 0;
    ipend = min32(end, ip + 40 + l4len);
    l4 = ip + 40;
  } else {
    return 0;
  }
  u32 ports = be32(l4);
  u32 payload_at, payload_len, payload_end = ipend, seq = 0, ack = 0, w3 = 0;
  /* ipend >= l4: an IPv4 total length is at least 20 here, and IPv6's end is its header's or more */
  if (proto == 6) {
    if (ipend - l4 < 20) return 0;
    w3 = be32(l4 + 12);
    u32 hdr_len = (w3 >> 28) << 2;
    if (hdr_len < 20 || hdr_len > l4len || hdr_len > ipend - l4) return 0;
    payload_len = l4len - hdr_len;
    seq = be32(l4 + 4);
    ack = be32(l4 + 8);
    payload_at = l4 + hdr_len;
  } else if (proto == 17) {
    if (ipend - l4 < 8) return 0;
    u32 len = be16(l4 + 4);
    if (len == 0) len = l4len;
    const u8 *tunnel = (const u8 *)(uintptr_t)r->udp_next;
    if (len < 8 || tunnel[ports & 0xffff] != 0 || tunnel[ports >> 16] != 0) return 0;
    payload_at = l4 + 8;
    payload_len = len - 8;
    if (l4 + len < ipend) payload_end = l4 + len;
  } else {
    return 0;
  }
  u32 n = min32(payload_len, PAYLOAD_HASH_BYTES);
  /* lengths, not addresses: payload_at <= payload_end (the header checks above), so no wrap */
  if (n > payload_end - payload_at) return 0;

  /* MACs as uint64 lanes: lo = the last four bytes, hi = the first two */
  COL(u32, C_DST_MAC)[2 * row + 1] = be16(at);
  COL(u32, C_DST_MAC)[2 * row] = be32(at + 2);
  COL(u32, C_SRC_MAC)[2 * row + 1] = be16(at + 6);
  COL(u32, C_SRC_MAC)[2 * row] = be32(at + 8);
  if (ip != at + 14) {
    COL(u16, C_VLAN)[4 * row] = be16(at + 14) & 0x0fff;
    COL(u8, C_VLAN_COUNT)[row] = 1;
  }
  COL(u16, C_ETHERTYPE)[row] = type;
  u32 f0, f1;
  if (type == 0x0800) {
    COL(u8, C_DSCP)[row] = (w0 >> 18) & 0x3f;
    COL(u8, C_TTL)[row] = w2 >> 24;
    COL(u32, C_IP_ID)[row] = w1 >> 16;
    COL(u32, C_SRC_IP4)[row] = be32(ip + 12);
    COL(u32, C_DST_IP4)[row] = be32(ip + 16);
    COL(u8, C_IP_VERSION)[row] = 4;
    COL(u16, C_FRAG_OFFSET)[row] = 0;
    COL(u8, C_MORE_FRAGMENTS)[row] = 0;
    COL(u8, C_IP_ID_VALID)[row] = 1;
    /* fingerprint.ts word 1: version, protocol, offset, MF (both 0 here); word 2 the id */
    f0 = (4u << 28) | (proto << 20) | ((w1 & 0x1fff) << 1) | ((w1 >> 13) & 1);
    f1 = w1 >> 16;
  } else {
    COL(u8, C_DSCP)[row] = (w0 >> 22) & 0x3f;
    COL(u32, C_FLOW_LABEL)[row] = w0 & 0xfffff;
    COL(u8, C_TTL)[row] = u8at(ip + 7);
    /* addresses in network order, byte for byte */
    __builtin_memcpy(COL(u8, C_SRC_IP6) + 16 * row, (const void *)(uintptr_t)(ip + 8), 16);
    __builtin_memcpy(COL(u8, C_DST_IP6) + 16 * row, (const void *)(uintptr_t)(ip + 24), 16);
    COL(u8, C_IP_VERSION)[row] = 6;
    COL(u8, C_FLOW_LABEL_VALID)[row] = 1;
    /* no fragment header: offset and MF 0, identification all ones */
    f0 = (6u << 28) | (proto << 20);
    f1 = 0xffffffffu;
  }
  COL(u8, C_IP_PROTO)[row] = proto;
  COL(u32, C_IP_PAYLOAD_LEN)[row] = l4len;
  COL(u16, C_SRC_PORT)[row] = ports >> 16;
  COL(u16, C_DST_PORT)[row] = ports & 0xffff;
  COL(u32, C_PAYLOAD_LEN)[row] = payload_len;
  u32 nwords, f3, f4 = 0, f5 = 0;
  if (proto == 6) {
    COL(u32, C_TCP_SEQ)[row] = seq;
    COL(u32, C_TCP_ACK)[row] = ack;
    COL(u16, C_TCP_FLAGS)[row] = (w3 >> 16) & 0x0fff;
    COL(u8, C_TCP_HDR_LEN)[row] = (w3 >> 28) << 2;
    COL(u16, C_TCP_WINDOW)[row] = w3 & 0xffff;
    COL(u8, C_TCP_VALID)[row] = 1;
    COL(u32, C_TCP_PAYLOAD_LEN)[row] = payload_len;
    COL(u8, C_TCP_PAYLOAD_LEN_VALID)[row] = 1;
    f3 = seq;
    f4 = ack;
    f5 = (w3 >> 16) & 0x0fff;
    nwords = 6;
  } else {
    f3 = payload_len + 8;
    nwords = 4;
  }

  /* entry qn of the hash queue: one array per field, `queue_stride` bytes apart */
  u32 *q = (u32 *)(uintptr_t)(r->queue_base + 4 * qn);
  u32 words = r->queue_stride >> 2;
  q[Q_ADDR * words] = payload_at;
  q[Q_LEN * words] = n;
  q[Q_N_WORDS * words] = nwords;
  q[Q_ROW * words] = row;
  q[(Q_W0 + 0) * words] = f0;
  q[(Q_W0 + 1) * words] = f1;
  q[(Q_W0 + 2) * words] = l4len;
  q[(Q_W0 + 3) * words] = f3;
  q[(Q_W0 + 4) * words] = f4;
  q[(Q_W0 + 5) * words] = f5;
  return 1;
}

/*
 * The validity every row written since `first` has, set for all of them at once: a fill is a fraction
 * of ten stores a row, each into another array's line.
 */
static void set_always_valid(struct run *r, u32 first, u32 row) {
  const u32 n = row - first;
  __builtin_memset(COL(u8, C_TS_VALID) + first, 1, n);
  __builtin_memset(COL(u8, C_SRC_MAC_VALID) + first, 1, n);
  __builtin_memset(COL(u8, C_ETHERTYPE_VALID) + first, 1, n);
  __builtin_memset(COL(u8, C_DSCP_VALID) + first, 1, n);
  __builtin_memset(COL(u8, C_IP_PROTO_VALID) + first, 1, n);
  __builtin_memset(COL(u8, C_IP_PAYLOAD_LEN_VALID) + first, 1, n);
  __builtin_memset(COL(u8, C_PORTS_VALID) + first, 1, n);
  __builtin_memset(COL(u8, C_PAYLOAD_LEN_VALID) + first, 1, n);
  __builtin_memset(COL(u8, C_PAYLOAD_HASH_VALID) + first, 1, n);
  __builtin_memset(COL(u8, C_FINGERPRINT_VALID) + first, 1, n);
}

/* The record columns of a row the frame of which frame_row wrote. */
static inline void record_row(struct run *r, u32 row, u32 ts_lo, u32 ts_hi, u32 caplen, u32 wirelen,
                              double offset, u32 frame) {
  COL(u32, C_TS)[2 * row] = ts_lo;
  COL(u32, C_TS)[2 * row + 1] = ts_hi;
  COL(u32, C_CAPLEN)[row] = caplen;
  COL(u32, C_WIRELEN)[row] = wirelen;
  COL(double, C_FILE_OFFSET)[row] = offset;
  COL(u32, C_FRAME)[row] = frame;
}

/* A record's frame and facts, as the container gives them. */
struct rec {
  u32 at, caplen, wirelen, ts_lo, ts_hi, next;
};

/* STOP_* for a record the kernel does not take, or this for one it does */
#define TAKE 3

/* The classic pcap record at `pos`. */
static inline u32 pcap_record(const struct run *r, u32 pos, u32 end, struct rec *o) {
  const u32 big = r->big_endian, hdr = r->hdr;
  if (end - pos < hdr) return STOP_MORE;
  u32 incl = field32(pos + 8, big);
  /* a record the reader refuses: its own error */
  if (incl > r->max_record) return STOP_RECORD;
  if (end - pos - hdr < incl) return STOP_MORE;
  u32 orig = field32(pos + 12, big);
  u32 frac = field32(pos + 4, big);
  /* records the reader warns about go its way, warning and all */
  if (incl > orig || incl > r->snaplen || frac >= r->frac_limit) return STOP_RECORD;
  /*
   * Scaled in 32 bits as wiretap does (read-pcap.ts): an out-of-range sub-second field wraps as in
   * tshark and carries into the seconds.
   */
  u64 ts = (u64)field32(pos, big) * 1000000000ull + (u32)(frac * r->mult);
  o->at = pos + hdr;
  o->caplen = incl;
  o->wirelen = orig;
  o->ts_lo = (u32)ts;
  o->ts_hi = (u32)(ts >> 32);
  o->next = pos + hdr + incl;
  return TAKE;
}

/*
 * The pcapng block at `pos`, when it is an Enhanced Packet Block of interface r->iface without
 * options (epb_flags and the like are the JavaScript path's) whose lengths the reader accepts; the
 * section's timestamps are nanoseconds without an offset (the reader asks only then). Every other
 * block (another interface's, an IDB, an ISB) is left to the reader.
 */
static inline u32 epb_record(const struct run *r, u32 pos, u32 end, struct rec *o) {
  const u32 big = r->big_endian;
  /* the reader's smallest block: type, length, trailer */
  if (end - pos < 12) return STOP_MORE;
  u32 len = field32(pos + 4, big);
  if (field32(pos, big) != 6 || len < 32 || len > r->max_block || (len & 3) != 0) return STOP_RECORD;
  if (end - pos < len) return STOP_MORE;
  u32 caplen = field32(pos + 20, big);
  /* the block is the header, the padded data and the trailer: no options */
  if (field32(pos + 8, big) != r->iface || caplen > len - 32 || caplen > r->max_record ||
      32 + ((caplen + 3) & ~3u) != len || field32(pos + len - 4, big) != len)
    return STOP_RECORD;
  o->at = pos + 28;
  o->caplen = caplen;
  o->wirelen = field32(pos + 24, big);
  o->ts_lo = field32(pos + 16, big);
  o->ts_hi = field32(pos + 12, big);
  o->next = pos + len;
  return TAKE;
}

/*
 * The records from r->pos on, until one stops it (r->stop says why); r->pos, row, frame and qn
 * advance.
 */
static inline __attribute__((always_inline)) void run_records(struct run *r, int epb) {
  u32 pos = r->pos, row = r->row, frame = r->frame, qn = r->qn;
  const u32 end = r->end, cap = r->cap, qlimit = r->qlimit;
  const double base = r->base;
  u32 stop;
  for (;;) {
    if (row >= cap || qn >= qlimit) {
      stop = STOP_FULL;
      break;
    }
    struct rec o;
    stop = epb ? epb_record(r, pos, end, &o) : pcap_record(r, pos, end, &o);
    if (stop != TAKE) break;
    if (!frame_row(r, o.at, o.at + o.caplen, row, qn)) {
      stop = STOP_RECORD;
      break;
    }
    record_row(r, row, o.ts_lo, o.ts_hi, o.caplen, o.wirelen, base + (double)pos, ++frame);
    row++;
    qn++;
    pos = o.next;
  }
  set_always_valid(r, r->row, row);
  r->pos = pos;
  r->row = row;
  r->frame = frame;
  r->qn = qn;
  r->stop = stop;
}

__attribute__((export_name("run"))) void run(struct run *r) { run_records(r, 0); }

__attribute__((export_name("run_epb"))) void run_epb(struct run *r) { run_records(r, 1); }
