// Package state remembers the problems fsxkms has alerted on, so that each
// is said once, reminded, and said to be over: one item per open problem
// in a DynamoDB table (Table), and one rule (Decide) that both the event
// path and the sweep follow to choose what to send.
//
// Decide is pure: it takes what the table holds about a key and what the
// check found now, and returns a Plan. Table carries the plan out with
// conditional writes, so that concurrent invocations and redeliveries
// racing on one finding send one alert, and "notified" is recorded only
// after the publish succeeded.
package state

import (
	"fmt"
	"time"

	"github.com/fsxkms/fsxkms/pkg/finding"
)

// Status is the life of an item.
type Status string

// Statuses of an item.
const (
	Open     Status = "OPEN"     // The problem was seen and not seen fixed since.
	Resolved Status = "RESOLVED" // The problem was seen fixed; kept until it expires.
)

// Defaults of Options.
const (
	// DefaultRemindAfter is how long an open problem waits for a reminder
	// (REMIND_AFTER).
	DefaultRemindAfter = 24 * time.Hour
	// DefaultOpenTTL is how long an open item outlives its last sighting:
	// a sweep sees every key FSx uses at least every few hours, so an item
	// not seen for this long is about a key FSx no longer uses.
	DefaultOpenTTL = 14 * 24 * time.Hour
	// DefaultClosedTTL is how long a resolved item, and an event's
	// one-time finding, are kept: long enough to recognise EventBridge's
	// redeliveries (up to 24 hours) and to read back recent history.
	DefaultClosedTTL = 7 * 24 * time.Hour
)

// Options tune Decide. The zero value means the defaults.
type Options struct {
	// RemindAfter is how long after the last alert an open problem is
	// reminded; zero means DefaultRemindAfter, negative never.
	RemindAfter time.Duration
	// OpenTTL and ClosedTTL: see DefaultOpenTTL and DefaultClosedTTL.
	OpenTTL, ClosedTTL time.Duration
}

func (o Options) remindAfter() time.Duration {
	if o.RemindAfter == 0 {
		return DefaultRemindAfter
	}
	return o.RemindAfter
}

func (o Options) openTTL() time.Duration {
	if o.OpenTTL <= 0 {
		return DefaultOpenTTL
	}
	return o.OpenTTL
}

func (o Options) closedTTL() time.Duration {
	if o.ClosedTTL <= 0 {
		return DefaultClosedTTL
	}
	return o.ClosedTTL
}

// Item is what the table holds about one problem on one key.
type Item struct {
	Key      string // KMS key ARN (KeyAttribute)
	ID       string // the finding's identity (FindingAttribute), see Observed.ID
	Status   Status
	Code     string
	Severity string
	// OneTime is set for a finding about an event (a grant revoked, a
	// refused change): it is said once and never resolved by its absence.
	OneTime bool
	// Fingerprint summarises the evidence last notified; a change alerts.
	Fingerprint string
	// Message is the finding's message when it was opened, clipped: what
	// a RESOLVED alert names as fixed.
	Message string
	// OpenedBy names what opened the item: an event id and name, or
	// "sweep".
	OpenedBy     string
	FirstSeen    time.Time
	LastSeen     time.Time
	LastNotified time.Time // zero while no alert for it was delivered
	NotifyCount  int
	ResolvedAt   time.Time
	Expires      time.Time // TTLAttribute
	// Version rises with every write; every write is conditioned on the
	// version read, so a racing writer fails and reads again.
	Version int64
	// Claim is held by the invocation publishing about the item, until
	// ClaimUntil; others leave the item alone meanwhile.
	Claim      string
	ClaimUntil time.Time
}

// expired reports whether DynamoDB may delete it at any moment: readers
// treat it as absent.
func (it Item) expired(now time.Time) bool { return !it.Expires.IsZero() && !now.Before(it.Expires) }

// claimed reports whether another invocation holds the item now.
func (it Item) claimed(now time.Time) bool { return it.Claim != "" && now.Before(it.ClaimUntil) }

// OpenFor is how long the problem has been open at now.
func (it Item) OpenFor(now time.Time) time.Duration { return now.Sub(it.FirstSeen) }

// Observed is one finding the check returned now, as the rule sees it.
type Observed struct {
	// ID is the finding's identity: its code and, when it has one, what
	// it is about (a permission, a principal, a grant), e.g.
	// "REQUIRED_PERMISSION_DENIED#kms:Decrypt". Two findings with one ID
	// are one problem.
	ID       string
	Code     string
	Severity string
	// Fingerprint summarises the evidence; see Item.Fingerprint.
	Fingerprint string
	Message     string
	OneTime     bool
}

// Judgement is what the check found about one key now.
type Judgement struct {
	Key      string
	Findings []Observed
	// Complete is set when every read of the key succeeded: only then
	// does a missing finding mean the problem is gone. A key read only in
	// part (the monitor denied, KMS throttling) resolves nothing.
	Complete bool
	// Deleted is set when the key no longer exists: the key's other open
	// problems are superseded and closed without a RESOLVED alert.
	Deleted bool
	// By names what made the monitor look: an event id and name, or
	// "sweep".
	By string
}

// Reason says why a finding is sent: package finding's, which alerts carry.
type Reason = finding.Reason

// Reasons of a Send.
const (
	New      = finding.ReasonNew
	Changed  = finding.ReasonChanged
	Unsent   = finding.ReasonUnsent
	Reminder = finding.ReasonReminder
)

// Send is a finding to alert on, and the item it opens or updates.
type Send struct {
	Reason Reason
	Found  Observed
	// Item is the item as read (Version 0 and no Status when it is new);
	// the writes are conditioned on its Version.
	Item Item
}

// Plan is what to do about one key: the alerts to send and the writes
// that go with them. Items claimed by another invocation are in Busy and
// nowhere else.
type Plan struct {
	Key    string
	Notify []Send
	// Resolve are open problems the check no longer finds: one RESOLVED
	// alert names them.
	Resolve []Item
	// Supersede are open problems made moot by the key's deletion: closed
	// without an alert (the deletion's own alert says it all).
	Supersede []Item
	// Refresh are open problems seen again with nothing to send whose
	// expiry is getting near: the expiry is pushed back.
	Refresh []Send
	// Busy are the IDs another invocation is publishing about now.
	Busy []string
}

// Empty reports whether the plan sends and writes nothing.
func (p Plan) Empty() bool {
	return len(p.Notify) == 0 && len(p.Resolve) == 0 && len(p.Supersede) == 0 && len(p.Refresh) == 0
}

// Decide is fsxkms's one rule for what to say about a key, given what the
// table holds about it (items, as read, expired ones included) and what
// the check found now:
//   - a new finding opens an item and alerts;
//   - a finding already open alerts again only when its evidence changed,
//     when no alert for it was delivered yet (a publish failed), or when
//     RemindAfter has passed since the last alert (a reminder);
//   - an open problem the check no longer finds, on a complete reading, is
//     resolved with one RESOLVED alert; on a deleted key it is superseded;
//   - an item another invocation holds is left to it.
//
// One-time findings (about an event) are said once per identity and are
// never resolved by their absence.
func Decide(now time.Time, items []Item, j Judgement, opts Options) Plan {
	p := Plan{Key: j.Key}
	byID := make(map[string]Item, len(items))
	for _, it := range items {
		byID[it.ID] = it
	}
	found := make(map[string]bool, len(j.Findings))
	for _, f := range j.Findings {
		if found[f.ID] {
			continue // one problem said twice in one report
		}
		found[f.ID] = true
		it, ok := byID[f.ID]
		if ok && it.claimed(now) {
			p.Busy = append(p.Busy, f.ID)
			continue
		}
		if !ok || it.expired(now) || it.Status != Open {
			p.Notify = append(p.Notify, Send{Reason: New, Found: f, Item: it})
			continue
		}
		if f.OneTime || it.OneTime {
			if it.NotifyCount == 0 {
				p.Notify = append(p.Notify, Send{Reason: Unsent, Found: f, Item: it})
			}
			continue // said once; a redelivery of the same event
		}
		switch remind := opts.remindAfter(); {
		case it.NotifyCount == 0:
			p.Notify = append(p.Notify, Send{Reason: Unsent, Found: f, Item: it})
		case f.Fingerprint != it.Fingerprint:
			p.Notify = append(p.Notify, Send{Reason: Changed, Found: f, Item: it})
		case remind > 0 && now.Sub(it.LastNotified) >= remind:
			p.Notify = append(p.Notify, Send{Reason: Reminder, Found: f, Item: it})
		case it.Expires.Sub(now) < opts.openTTL()/2:
			p.Refresh = append(p.Refresh, Send{Found: f, Item: it})
		}
	}
	if !j.Complete && !j.Deleted {
		return p
	}
	for _, it := range items {
		if found[it.ID] || it.Status != Open || it.OneTime || it.expired(now) {
			continue
		}
		switch {
		case it.claimed(now):
			p.Busy = append(p.Busy, it.ID)
		case j.Deleted:
			p.Supersede = append(p.Supersede, it)
		case it.NotifyCount == 0:
			// Never said, and gone already: close it without a word.
			p.Supersede = append(p.Supersede, it)
		default:
			p.Resolve = append(p.Resolve, it)
		}
	}
	return p
}

// Lasted is how long a problem lasted: from its first sighting to now,
// rounded for a person to read.
func Lasted(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}
