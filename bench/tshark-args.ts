/** The tshark field extraction every bench trial compares with: the same fields, so ratios compare alike. */
export function tsharkFieldsArgs(file: string): string[] {
  return [
    '-n',
    '-r',
    file,
    '-T',
    'fields',
    '-e',
    'frame.time_epoch',
    '-e',
    'ip.src',
    '-e',
    'ip.dst',
    '-e',
    'tcp.srcport',
  ];
}
