// Package awsid recognizes AWS identifiers by their documented form, so
// that every part of fsxkms (the check, the policy evaluator, the monitor's
// settings, the CLI and the local stand-ins) draws the line in one place.
package awsid

// Account reports whether s is an AWS account ID: "The regex pattern for an
// account ID string requires exactly 12 digits" (AWS Organizations API
// reference, DescribeAccount's AccountId). Leading zeros count: 012345678901
// is an account ID.
func Account(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
