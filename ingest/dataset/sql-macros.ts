/**
 * SQL macros that turn stored integers and bytes into text, in plain DuckDB SQL so that the DuckDB CLI
 * can load the same file (`dataset/macros.sql`). IPv6 text follows RFC 5952 and glibc's inet_ntop
 * (which tshark prints): the longest run of two or more zero groups becomes `::` (the first such run
 * on a tie), and IPv4-mapped (`::ffff:a.b.c.d`) and IPv4-compatible (`::a.b.c.d`) addresses end in
 * dotted quads.
 */
export const macroStatements: readonly string[] = [
  `CREATE OR REPLACE MACRO ip4_text(u) AS
    CASE WHEN u IS NULL THEN NULL
    ELSE concat_ws('.', (u >> 24) & 255, (u >> 16) & 255, (u >> 8) & 255, u & 255) END`,
  // Groups as lowercase hex without leading zeros; '' stands for a zero group.
  `CREATE OR REPLACE MACRO ip6_groups(b) AS
    list_transform(range(8), i -> lower(ltrim(substr(hex(b), i * 4 + 1, 4), '0')))`,
  `CREATE OR REPLACE MACRO ip6_join(g) AS
    array_to_string(list_transform(g, x -> CASE WHEN x = '' THEN '0' ELSE x END), ':')`,
  `CREATE OR REPLACE MACRO ip6_v4_tail(b) AS
    array_to_string(list_transform(range(4), i -> ('0x' || substr(hex(b), 25 + 2 * i, 2))::INTEGER), '.')`,
  `CREATE OR REPLACE MACRO ip6_flags(g) AS
    array_to_string(list_transform(g, x -> CASE WHEN x = '' THEN '1' ELSE '0' END), '')`,
  `CREATE OR REPLACE MACRO ip6_best_run(flags) AS
    list_max(list_filter(range(2, 9), k -> instr(flags, repeat('1', k)) > 0))`,
  `CREATE OR REPLACE MACRO ip6_compress(g, k) AS
    CASE WHEN k IS NULL THEN ip6_join(g)
    ELSE ip6_join(g[1:instr(ip6_flags(g), repeat('1', k)) - 1]) || '::' ||
         ip6_join(g[instr(ip6_flags(g), repeat('1', k)) + k:8]) END`,
  `CREATE OR REPLACE MACRO ip6_text(b) AS
    CASE WHEN b IS NULL THEN NULL
    WHEN substr(hex(b), 1, 20) = '00000000000000000000' AND substr(hex(b), 21, 4) = 'FFFF'
      THEN '::ffff:' || ip6_v4_tail(b)
    WHEN substr(hex(b), 1, 24) = '000000000000000000000000' AND substr(hex(b), 25, 4) <> '0000'
      THEN '::' || ip6_v4_tail(b)
    ELSE ip6_compress(ip6_groups(b), ip6_best_run(ip6_flags(ip6_groups(b)))) END`,
  `CREATE OR REPLACE MACRO ip_text(v4, v6) AS coalesce(ip4_text(v4), ip6_text(v6))`,
  `CREATE OR REPLACE MACRO mac_text(u) AS
    CASE WHEN u IS NULL THEN NULL
    ELSE array_to_string(list_transform(range(6), i -> lower(substr(lpad(hex(u), 12, '0'), 2 * i + 1, 2))), ':') END`,
];
