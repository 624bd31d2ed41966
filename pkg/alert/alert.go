// Package alert renders fsxkms findings about a KMS key behind Amazon FSx as
// one alert in three forms (machine JSON, plain-text email, AWS Chatbot custom
// notification) and publishes it: to SNS as a single MessageStructure=json
// message, or to stdout as one JSON object per line.
package alert

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/fsxkms/fsxkms/pkg/finding"
)

// Severity ranks an alert or a finding (finding.Severity). Subscribers
// filter on it through the SNS message attribute "severity".
type Severity = finding.Severity

// Severities from most to least urgent.
const (
	Critical = finding.Critical // FSx access to data is broken or about to break.
	Warning  = finding.Warning  // Something needs a look, FSx still works.
	Info     = finding.Info     // For the record, e.g. a problem is over.
)

// ParseSeverity returns the Severity named by s, ignoring case and
// surrounding space.
func ParseSeverity(s string) (Severity, error) {
	v, err := finding.ParseSeverity(s)
	if err != nil {
		return "", fmt.Errorf("alert: %w", err)
	}
	return v, nil
}

// Status is the compliance of the key for FSx after the triggering event
// (finding.Status).
type Status = finding.Status

// Statuses of a key.
const (
	Noncompliant = finding.Noncompliant // FSx cannot, or may soon not, use the key.
	Compliant    = finding.Compliant    // FSx can use the key.
	Unknown      = finding.Unknown      // The monitor could not tell.
)

// Schema names the version of the machine form.
const Schema = "fsxkms.alert.v1"

// Alert is one notification about one KMS key. Its JSON encoding is the
// machine form delivered to SQS, Lambda and stdout subscribers.
type Alert struct {
	Schema   string   `json:"schema"`   // Always Schema; filled in when empty.
	Severity Severity `json:"severity"` // Empty means the highest finding severity.
	Status   Status   `json:"status"`   // Empty means Unknown.
	Title    string   `json:"title"`    // Empty means derived from the key and top finding.
	Account  string   `json:"account"`  // Empty means taken from the key ARN.
	// AccountName is the account's name in the organization, when known
	// (the organization deployment's sweep).
	AccountName string     `json:"accountName,omitempty"`
	Region      string     `json:"region"`    // Empty means taken from the key ARN.
	Key         Key        `json:"key"`       // The KMS key the alert is about.
	Trigger     Trigger    `json:"trigger"`   // What made the monitor look.
	Resources   []Resource `json:"resources"` // FSx resources encrypted with the key.
	Findings    []Finding  `json:"findings"`  // What is wrong (or right again).
	// Notice says why the alert goes out now, when the monitor keeps
	// alert state (STATE_TABLE); nil without it.
	Notice *Notice `json:"notice,omitempty"`
	// CheckedAt is when the monitor read the key for this alert.
	CheckedAt time.Time `json:"checkedAt,omitzero"`
	// Sender names who sent it: the stack and the function, e.g.
	// "fsxkms-prod/kms-events"; empty when unknown.
	Sender string `json:"sender,omitempty"`
}

// Notice says why an alert goes out now: a problem is new, its evidence
// changed, a reminder is due, or problems are over.
type Notice struct {
	// Reason is NEW, CHANGED, UNSENT (an earlier publish failed),
	// REMINDER or RESOLVED. Subscribers filter on it through the SNS
	// message attribute "notice".
	Reason finding.Reason `json:"reason"`
	// OpenSince is when the oldest problem the alert is about was first
	// seen, and OpenFor that duration, rounded ("2d03h"); unset for NEW.
	OpenSince time.Time `json:"openSince,omitzero"`
	OpenFor   string    `json:"openFor,omitempty"`
	// AlertsBefore counts the alerts sent about it before this one.
	AlertsBefore int `json:"alertsBefore,omitempty"`
	// RemindAfter is how often an open problem is reminded (REMIND_AFTER),
	// e.g. "24h0m0s"; empty when never.
	RemindAfter string `json:"remindAfter,omitempty"`
	// Resolved lists the codes of the problems that are over (RESOLVED).
	Resolved []string `json:"resolved,omitempty"`
}

// Key describes the KMS key.
type Key struct {
	ARN     string   `json:"arn"`
	State   string   `json:"state"`   // KMS KeyState, e.g. Enabled, Disabled, PendingDeletion.
	Manager string   `json:"manager"` // CUSTOMER or AWS.
	Aliases []string `json:"aliases"` // e.g. alias/fsx-prod.
}

// Trigger is the event that made the monitor evaluate the key.
type Trigger struct {
	Source    string    `json:"source"`             // cloudtrail, kms-event or sweep.
	EventName string    `json:"eventName"`          // e.g. DisableKey.
	EventID   string    `json:"eventId"`            // CloudTrail eventID or EventBridge id.
	EventTime time.Time `json:"eventTime,omitzero"` // When the event happened.
	Actor     string    `json:"actor"`              // Principal ARN that made the call.
	SourceIP  string    `json:"sourceIp"`           // Caller address or AWS service name.
	Failed    bool      `json:"failed"`             // The call itself failed (an attempt).
	ErrorCode string    `json:"errorCode"`          // e.g. AccessDenied, for failed calls.
}

// Sources of a Trigger.
const (
	SourceCloudTrail = "cloudtrail"
	SourceKMSEvent   = "kms-event"
	SourceSweep      = "sweep"
)

// Resource is an FSx resource that depends on the key.
type Resource struct {
	Type           string `json:"type"` // file-system, backup or file-cache (Amazon File Cache).
	ID             string `json:"id"`
	ARN            string `json:"arn"`
	FileSystemType string `json:"fileSystemType"` // LUSTRE, WINDOWS, ONTAP, OPENZFS; a cache's FileCacheType.
	Lifecycle      string `json:"lifecycle"`      // e.g. AVAILABLE, MISCONFIGURED.
}

// Finding is one check result with its evidence and fix.
//
// Its Remediation is fsxkms's own text: its lines that start with "aws " or
// "fsxkms " are shown as commands, the others as text. The values from
// outside that it embeds and that the alert also carries (its Statements,
// the key ARN, aliases, the actor, event ID, source address, error code,
// FSx resource IDs and ARNs) are found in it and kept inside their line,
// quoted where needed; a value it embeds that the alert does not carry is
// not recognised, so it must not hold a line break.
type Finding struct {
	Code        finding.Code `json:"code"`                // e.g. KEY_DISABLED, RESOLVED.
	Severity    Severity     `json:"severity"`            // Severity of this finding alone.
	Action      string       `json:"action"`              // KMS action evaluated, e.g. kms:CreateGrant.
	Decision    string       `json:"decision"`            // Policy decision, e.g. Deny-explicit.
	Statements  []string     `json:"statements"`          // Deciding policy statements (Sid or JSON).
	Principal   string       `json:"principal,omitempty"` // The principal the finding is about, if one (e.g. a listed principal that lost access).
	Message     string       `json:"message"`             // Why, in a sentence or two; shown as quoted text (it embeds outside text).
	Remediation string       `json:"remediation"`         // Usually an AWS CLI command; one per line (see below).
}

// Validate reports fields that subscribers could not filter or parse on.
func (a Alert) Validate() error {
	var errs []error
	if a.Schema != "" && a.Schema != Schema {
		errs = append(errs, fmt.Errorf("schema %q, want %q", a.Schema, Schema))
	}
	if a.Severity != "" && a.Severity.Rank() == 0 {
		errs = append(errs, fmt.Errorf("severity %q, want CRITICAL, WARNING or INFO", a.Severity))
	}
	switch a.Status {
	case "", Noncompliant, Compliant, Unknown:
	default:
		errs = append(errs, fmt.Errorf("status %q, want NONCOMPLIANT, COMPLIANT or UNKNOWN", a.Status))
	}
	switch a.Trigger.Source {
	case "", SourceCloudTrail, SourceKMSEvent, SourceSweep:
	default:
		errs = append(errs, fmt.Errorf("trigger.source %q, want cloudtrail, kms-event or sweep", a.Trigger.Source))
	}
	for i, f := range a.Findings {
		if f.Severity != "" && f.Severity.Rank() == 0 {
			errs = append(errs, fmt.Errorf("findings[%d] (%s): severity %q, want CRITICAL, WARNING or INFO", i, f.Code, f.Severity))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("alert %q: invalid: %w", a.Key.ARN, err)
	}
	return nil
}

// filled returns a copy of a with every string bounded (MaxField and the
// other bounds) and the derived fields set: schema, severity, status,
// account, region, title and non-nil lists (so JSON has [] not null).
func (a Alert) filled() Alert {
	a = a.bounded()
	a.Schema = Schema
	if a.Severity == "" {
		a.Severity = Info
		if f, ok := a.top(); ok && f.Severity.Rank() > 0 {
			a.Severity = f.Severity
		}
	}
	if a.Status == "" {
		a.Status = Unknown
	}
	acct, region := arnAccountRegion(a.Key.ARN)
	if a.Account == "" {
		a.Account = acct
	}
	if a.Region == "" {
		a.Region = region
	}
	a.Key.Aliases = nonNil(a.Key.Aliases)
	a.Resources = nonNil(a.Resources)
	a.Findings = nonNil(a.Findings)
	fs := make([]Finding, len(a.Findings))
	for i, f := range a.Findings {
		f.Statements = nonNil(f.Statements)
		fs[i] = f
	}
	a.Findings = fs
	if strings.TrimSpace(a.Title) == "" {
		a.Title = a.derivedTitle()
	}
	a.Title = bound(a.Title, MaxTitle)
	return a
}

// bounded returns a copy of a with every string cut to its bound.
func (a Alert) bounded() Alert {
	f := func(s string) string { return bound(s, MaxField) }
	a.Schema, a.Title = f(a.Schema), bound(a.Title, MaxTitle)
	a.Severity, a.Status = Severity(f(string(a.Severity))), Status(f(string(a.Status)))
	a.Account, a.AccountName, a.Region, a.Sender = f(a.Account), bound(a.AccountName, 256), f(a.Region), f(a.Sender)
	a.Key = Key{ARN: f(a.Key.ARN), State: f(a.Key.State), Manager: f(a.Key.Manager), Aliases: mapSlice(a.Key.Aliases, f)}
	t := &a.Trigger
	t.Source, t.EventName, t.EventID, t.Actor, t.SourceIP, t.ErrorCode = f(t.Source), f(t.EventName), f(t.EventID), f(t.Actor), f(t.SourceIP), f(t.ErrorCode)
	if a.Resources != nil {
		rs := make([]Resource, len(a.Resources))
		for i, r := range a.Resources {
			rs[i] = Resource{Type: f(r.Type), ID: f(r.ID), ARN: f(r.ARN), FileSystemType: f(r.FileSystemType), Lifecycle: f(r.Lifecycle)}
		}
		a.Resources = rs
	}
	if a.Findings != nil {
		fs := make([]Finding, len(a.Findings))
		for i, x := range a.Findings {
			fs[i] = Finding{Code: finding.Code(f(string(x.Code))), Severity: Severity(f(string(x.Severity))), Action: f(x.Action), Decision: f(x.Decision),
				Statements: mapSlice(x.Statements, func(s string) string { return bound(s, MaxStatement) }),
				Message:    bound(x.Message, MaxMessage), Remediation: bound(x.Remediation, MaxRemediation)}
		}
		a.Findings = fs
	}
	return a
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// top returns the most severe finding, the first one among equals.
func (a Alert) top() (Finding, bool) {
	if len(a.Findings) == 0 {
		return Finding{}, false
	}
	best := a.Findings[0]
	for _, f := range a.Findings[1:] {
		if f.Severity.Rank() > best.Severity.Rank() {
			best = f
		}
	}
	return best, true
}

// Code is the code of the most severe finding, or "" with no findings.
func (a Alert) Code() string {
	f, _ := a.top()
	return string(f.Code)
}

// KeyID is the key ID part of the key ARN (or the ARN itself if it has none).
func (a Alert) KeyID() string {
	if i := strings.LastIndex(a.Key.ARN, ":key/"); i >= 0 {
		return a.Key.ARN[i+len(":key/"):]
	}
	return a.Key.ARN
}

// keyName is how people call the key: its first alias, else its ID.
func (a Alert) keyName() piece {
	if len(a.Key.Aliases) > 0 && a.Key.Aliases[0] != "" {
		return val(bound(a.Key.Aliases[0], maxTitleValue))
	}
	if id := a.KeyID(); id != "" {
		return val(bound(id, maxTitleValue))
	}
	return lit("(unknown key)")
}

// maxTitleValue bounds a value in a derived title (an alias is at most 256
// characters), so a derived title stays within MaxTitle.
const maxTitleValue = 256

// arnAccountRegion returns the account and Region fields of an ARN.
func arnAccountRegion(s string) (account, region string) {
	a, err := arn.Parse(s)
	if err != nil {
		return "", ""
	}
	return a.AccountID, a.Region
}

// boundAll returns at most n of vs, each a finding code, then "and N more".
func boundAll(vs []string, n int) []string {
	if len(vs) <= n {
		return vs
	}
	return append(append([]string(nil), vs[:n]...), fmt.Sprintf("and %d more", len(vs)-n))
}

// derivedTitle is the title made from the key and the top finding.
func (a Alert) derivedTitle() string { return text(a.derivedPieces()) }

// titlePieces is the title for the renderings: a derived title keeps its
// values (the alias, the event name) apart from fsxkms's words; a title set
// by the caller is fsxkms's words.
func (a Alert) titlePieces() []piece {
	if d := a.derivedPieces(); a.Title == text(d) {
		return d
	}
	return []piece{lit(a.Title)}
}

func (a Alert) derivedPieces() []piece {
	f, ok := a.top()
	verb := lit(" was checked")
	if ok {
		if f.Code != "" {
			verb = lit(" " + f.Code.Title())
		}
	}
	if ok && f.Code == finding.GrantRevoked && a.Trigger.EventName == "RetireGrant" {
		verb = lit(" had a grant retired")
	}
	ps := []piece{lit("KMS key "), a.keyName(), verb}
	if ok && f.Code == finding.AttemptedChangeDenied && a.Trigger.EventName != "" {
		ps = []piece{lit("KMS key "), a.keyName(), lit(": denied "), val(bound(a.Trigger.EventName, maxTitleValue)), lit(" attempt")}
	}
	if n := a.Notice; n != nil {
		switch n.Reason {
		case finding.ReasonResolved:
			ps = []piece{lit("Resolved: KMS key "), a.keyName(), lit(" " + strings.Join(boundAll(n.Resolved, 3), ", "))}
			if n.OpenFor != "" {
				ps = append(ps, lit(" over after "+n.OpenFor))
			}
			return ps
		case finding.ReasonReminder:
			ps = append([]piece{lit("Reminder, open " + n.OpenFor + ": ")}, ps...)
		case finding.ReasonChanged:
			ps = append([]piece{lit("Changed: ")}, ps...)
		}
	}
	if n := len(a.Resources); n > 0 && a.atRisk() {
		noun := "FSx resources"
		if n == 1 {
			noun = "FSx resource"
		}
		ps = append(ps, lit(fmt.Sprintf("; %d %s at risk", n, noun)))
	}
	return ps
}
