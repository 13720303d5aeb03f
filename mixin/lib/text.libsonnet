// Text helpers for the alert files, so long PromQL and descriptions stay readable in source.
{
  // A ||| block written over several lines, rendered as one line (like YAML's >-).
  fold(s):: std.join(' ', std.split(std.rstripChars(s, '\n'), '\n')),
  // A ||| block kept over several lines, without its final newline (like YAML's |-).
  strip(s):: std.rstripChars(s, '\n'),
}
