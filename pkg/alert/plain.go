package alert

// Plain renders text from outside fsxkms (a policy statement's Sid, an
// alias, a finding's message that embeds them) for a system that shows it
// as it is, with no markup and no links, such as the AWS Security Hub
// console: on one line, every control and invisible character escaped
// (\n, \u202e), URLs defanged (https[:]//), and at most n bytes, a cut value
// ending in "… (clipped, N bytes)". n below the marker's size gives the
// marker alone.
func Plain(s string, n int) string { return bound(defang(escape(s)), n) }
