// Package finding names what fsxkms can say about a KMS key: the finding
// codes, each with its short title, its usual severity and its section of
// the findings reference (docs/findings.md), and the severities, statuses
// and notice reasons alerts carry. The check, the alerts, the docs and the tests all
// read this one table, so a code cannot drift from its title.
package finding

import (
	"fmt"
	"strings"
)

// Severity ranks a finding or an alert. The strings are stable: alerts,
// SNS filter policies and users' rules depend on them.
type Severity string

// Severities, from most to least urgent.
const (
	Critical Severity = "CRITICAL" // FSx access to data is broken or about to break.
	Warning  Severity = "WARNING"  // Something needs a look; FSx still works.
	Info     Severity = "INFO"     // For the record, e.g. a problem is over.
)

// ParseSeverity returns the Severity named by s, ignoring case and
// surrounding space.
func ParseSeverity(s string) (Severity, error) {
	v := Severity(strings.ToUpper(strings.TrimSpace(s)))
	if v.Rank() == 0 {
		return "", fmt.Errorf("unknown severity %q (want CRITICAL, WARNING or INFO)", s)
	}
	return v, nil
}

// Rank orders severities: 3 for Critical down to 1 for Info, 0 for an
// unknown one.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 3
	case Warning:
		return 2
	case Info:
		return 1
	}
	return 0
}

// AtLeast reports whether s is as urgent as min or more. An unknown
// severity ranks below Info.
func (s Severity) AtLeast(min Severity) bool { return s.Rank() >= min.Rank() }

// Status is the verdict on a key as a whole.
type Status string

// Statuses of a key.
const (
	// Noncompliant: FSx cannot, or soon will not, use the key.
	Noncompliant Status = "NONCOMPLIANT"
	// Compliant: every required permission is usable and the key is
	// enabled.
	Compliant Status = "COMPLIANT"
	// Unknown: the monitor could not decide (it could not read the key,
	// or the policy holds a construct the evaluator cannot decide).
	Unknown Status = "UNKNOWN"
)

// Reason says why an alert about findings goes out now, when the monitor
// keeps alert state. The strings are stable: subscribers filter on them
// through the SNS message attribute "notice".
type Reason string

// Reasons of an alert.
const (
	ReasonNew      Reason = "NEW"      // not open before (or resolved, or expired)
	ReasonChanged  Reason = "CHANGED"  // open, and its evidence changed
	ReasonUnsent   Reason = "UNSENT"   // open, but no alert for it was delivered yet
	ReasonReminder Reason = "REMINDER" // open, and RemindAfter passed since the last alert
	ReasonResolved Reason = "RESOLVED" // problems alerted on are over
)

// Code names a finding. The strings are stable: alerts, SNS filter
// policies and users' rules depend on them.
type Code string

// Finding codes, in the order of the findings reference.
const (
	KeyDisabled              Code = "KEY_DISABLED"
	KeyPendingDeletion       Code = "KEY_PENDING_DELETION"
	KeyPendingImport         Code = "KEY_PENDING_IMPORT"
	KeyUnavailable           Code = "KEY_UNAVAILABLE"
	KeyNotFound              Code = "KEY_NOT_FOUND"
	KeyMaterialExpiring      Code = "KEY_MATERIAL_EXPIRING"
	RequiredPermissionDenied Code = "REQUIRED_PERMISSION_DENIED"
	RequiredPermissionUnsure Code = "REQUIRED_PERMISSION_INDETERMINATE"
	OptionalPermissionDenied Code = "OPTIONAL_PERMISSION_DENIED"
	PolicyUnreadable         Code = "POLICY_UNREADABLE"
	GrantRevoked             Code = "GRANT_REVOKED"
	PolicyLockoutBypass      Code = "POLICY_LOCKOUT_BYPASS"
	MonitorAccessDenied      Code = "MONITOR_ACCESS_DENIED"
	MonitorReadFailed        Code = "MONITOR_READ_FAILED"
	AttemptedChangeDenied    Code = "ATTEMPTED_CHANGE_DENIED"
	Restored                 Code = "RESTORED"
	// Resolved: the monitor's alert state says a problem it alerted on is
	// over.
	Resolved Code = "RESOLVED"
	// SweepSummary: a sweep's summary.
	SweepSummary Code = "SWEEP_SUMMARY"
	// AlertTruncated: an alert too large for SNS was shortened.
	AlertTruncated Code = "ALERT_TRUNCATED"
)

// Codes returns every code, in the order of the findings reference.
func Codes() []Code {
	cs := make([]Code, len(table))
	for i, a := range table {
		cs[i] = a.code
	}
	return cs
}

// Known reports whether c is one of Codes.
func (c Code) Known() bool { _, ok := lookup(c); return ok }

// Title says in a few words what c means for the key ("was disabled");
// "finding <code>" for an unknown code.
func (c Code) Title() string {
	if a, ok := lookup(c); ok {
		return a.title
	}
	return "finding " + string(c)
}

// Usual is the severity a finding of code c has most often (some codes
// take a lower one in some cases: a grant removal that leaves an FSx
// grant is a WARNING); "" for an unknown code.
func (c Code) Usual() Severity {
	a, _ := lookup(c)
	return a.severity
}

// ReferenceURL is where the findings reference explains the codes.
const ReferenceURL = "https://github.com/fsxkms/fsxkms/blob/main/docs/findings.md"

// Reference is the URL of c's section of the findings reference: what it
// means, why it matters, how to fix it and how to check the fix.
func (c Code) Reference() string {
	return ReferenceURL + "#" + strings.ToLower(string(c)) // GitHub's anchor of the heading "## <code>"
}

// about is what the table says of one code.
type about struct {
	code Code
	// title says in a few words what the code means for the key; a
	// derived alert title reads "KMS key <alias> <title>".
	title    string
	severity Severity
}

// table is the one list of codes: Codes, Title, Usual and Reference read it.
var table = []about{
	{KeyDisabled, "was disabled", Critical},
	{KeyPendingDeletion, "is scheduled for deletion", Critical},
	{KeyPendingImport, "has no key material (pending import)", Critical},
	{KeyUnavailable, "is unavailable (key store disconnected)", Critical},
	{KeyNotFound, "no longer exists", Critical},
	{KeyMaterialExpiring, "has imported key material about to expire", Warning},
	{RequiredPermissionDenied, "policy denies FSx a required permission", Critical},
	{RequiredPermissionUnsure, "policy may deny FSx a required permission (undecided)", Warning},
	{OptionalPermissionDenied, "policy denies FSx an optional permission", Warning},
	{PolicyUnreadable, "policy could not be evaluated", Warning},
	{GrantRevoked, "had a grant revoked", Critical},
	{PolicyLockoutBypass, "policy was set bypassing the lockout check", Warning},
	{MonitorAccessDenied, "cannot be read by the monitor", Critical},
	{MonitorReadFailed, "could not be read by the monitor", Warning},
	{AttemptedChangeDenied, "change was attempted and denied", Warning},
	{Restored, "is usable by FSx again", Info},
	{Resolved, "problem is over", Info},
	{SweepSummary, "sweep summary", Info},
	{AlertTruncated, "alert was shortened", Info},
}

func lookup(c Code) (about, bool) {
	for _, a := range table {
		if a.code == c {
			return a, true
		}
	}
	return about{}, false
}
