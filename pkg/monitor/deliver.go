package monitor

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/fsxkms/fsxkms/pkg/alert"
	"github.com/fsxkms/fsxkms/pkg/check"
	"github.com/fsxkms/fsxkms/pkg/finding"
	"github.com/fsxkms/fsxkms/pkg/kmsevent"
	"github.com/fsxkms/fsxkms/pkg/state"
)

// Sent values of a KeyResult besides the state.Reason values.
const (
	// SentAlert is an alert sent without State: every finding, every time.
	SentAlert = "ALERT"
	// SentResolved is a RESOLVED alert naming problems that are over.
	SentResolved = string(finding.ReasonResolved)
)

// maxDecideRounds bounds how often deliver reads the state again after a
// racing invocation changed it between the read and the write.
const maxDecideRounds = 3

// deliver says what a judged key calls for, by fsxkms's one rule, and
// publishes it; the event path and the sweep both call it. Without State
// every finding is alerted on every time. With State, state.Decide says
// what is new, changed, due for a reminder or over, and the writes that go
// with each alert are conditional: an item is claimed before its alert is
// published and marked notified only after the publish succeeded, so a
// failed publish is retried (the error makes Lambda retry) and a racing
// invocation sends nothing twice.
func (m *Monitor) deliver(ctx context.Context, kr *KeyResult, ev *kmsevent.Event) error {
	if kr.Status == StatusOutOfScope {
		return nil
	}
	if m.State == nil {
		if len(kr.Report.Findings) == 0 {
			return nil
		}
		if err := m.Alerts.Publish(ctx, m.toAlert(kr, ev)); err != nil {
			m.log().Error("alert not sent", "key", kr.KeyARN, "status", kr.Status, "codes", kr.Codes, "error", err.Error())
			return fmt.Errorf("publish alert: %w", err)
		}
		kr.Sent = append(kr.Sent, SentAlert)
		return nil
	}
	j, source := judgement(kr.Report, ev, kr.Err == nil)
	for round := 1; ; round++ {
		items, err := m.State.Items(ctx, kr.KeyARN)
		if err != nil {
			m.log().Error("alert state not read: the key's alert waits for the retry", "key", kr.KeyARN, "error", err.Error())
			return fmt.Errorf("read alert state: %w", err)
		}
		plan := state.Decide(m.now(), items, j, m.State.Options)
		kr.Busy = len(plan.Busy)
		raced, err := m.carryOut(ctx, kr, ev, plan)
		if err != nil {
			return err
		}
		if !raced {
			return m.track(ctx, kr, j, source, items, plan, ev == nil)
		}
		if round == maxDecideRounds {
			m.log().Warn("alert state kept changing under this invocation: the rest is left to the others",
				"key", kr.KeyARN, "rounds", round)
			return m.track(ctx, kr, j, source, items, plan, ev == nil)
		}
	}
}

// claimed is an item this invocation holds, with the finding it is for.
type claimed struct {
	send state.Send
	item state.Item
}

// carryOut publishes and writes what plan says. raced is set when another
// invocation changed an item between the read and a write: deliver then
// reads and decides again.
func (m *Monitor) carryOut(ctx context.Context, kr *KeyResult, ev *kmsevent.Event, plan state.Plan) (raced bool, err error) {
	st, log := m.State, m.log().With("key", kr.KeyARN)
	if len(plan.Notify) > 0 || len(plan.Resolve) > 0 {
		m.nameAccount(ctx, kr) // for the alerts below
	}
	now := m.now()
	token, until := claimToken(), m.claimUntil(ctx, now)
	by := openedBy(ev)

	// Findings to alert on: claim each, publish one alert, record it.
	var held []claimed
	for _, s := range plan.Notify {
		var it state.Item
		if s.Reason == state.New {
			it, err = st.Open(ctx, kr.KeyARN, s, by, token, until, now)
		} else {
			it, err = st.Claim(ctx, s.Item, token, until)
		}
		if errors.Is(err, state.ErrConflict) {
			raced = true
			continue
		}
		if err != nil {
			m.release(ctx, held, token)
			return false, fmt.Errorf("claim %s: %w", s.Found.ID, err)
		}
		held = append(held, claimed{send: s, item: it})
	}
	if len(held) > 0 {
		a := m.toAlert(kr, ev)
		a.Notice = findingsNotice(held, now, st.Options.RemindAfter)
		if err := m.Alerts.Publish(ctx, a); err != nil {
			log.Error("alert not sent: it is retried", "notice", a.Notice.Reason, "codes", kr.Codes, "error", err.Error())
			m.release(ctx, held, token)
			return false, fmt.Errorf("publish alert: %w", err)
		}
		kr.Sent = append(kr.Sent, string(a.Notice.Reason))
		for _, c := range held {
			if err := st.Notified(ctx, c.item, token, c.send.Found, now); err != nil {
				// Sent but not recorded: a later sighting, once the claim
				// lapses, sends it again. Repeated beats lost.
				log.Error("alert sent but not recorded as sent: it may be repeated", "finding", c.item.ID, "error", err.Error())
			}
		}
	}

	// Problems that are over: claim each, publish one RESOLVED alert.
	var over []claimed
	for _, it := range plan.Resolve {
		c, err := st.Claim(ctx, it, token, until)
		if errors.Is(err, state.ErrConflict) {
			raced = true
			continue
		}
		if err != nil {
			m.release(ctx, over, token)
			return false, fmt.Errorf("claim %s: %w", it.ID, err)
		}
		over = append(over, claimed{item: c})
	}
	if len(over) > 0 {
		a := m.resolvedAlert(kr, ev, over, now)
		if err := m.Alerts.Publish(ctx, a); err != nil {
			log.Error("RESOLVED alert not sent: it is retried", "error", err.Error())
			m.release(ctx, over, token)
			return false, fmt.Errorf("publish RESOLVED alert: %w", err)
		}
		kr.Sent = append(kr.Sent, SentResolved)
		for _, c := range over {
			if err := st.Resolved(ctx, c.item, token, now); err != nil {
				log.Error("RESOLVED alert sent but not recorded: it may be repeated", "finding", c.item.ID, "error", err.Error())
			}
		}
	}

	// Quiet writes: superseded problems and expiries pushed back. A failure
	// here costs nothing now; the next sighting does it again.
	for _, it := range plan.Supersede {
		if err := st.Supersede(ctx, it); err != nil && !errors.Is(err, state.ErrConflict) {
			log.Warn("superseded problem not closed", "finding", it.ID, "error", err.Error())
		}
	}
	for _, s := range plan.Refresh {
		if err := st.Refresh(ctx, s.Item, now); err != nil && !errors.Is(err, state.ErrConflict) {
			log.Warn("open problem's expiry not pushed back", "finding", s.Item.ID, "error", err.Error())
		}
	}
	if len(plan.Busy) > 0 {
		log.Info("another invocation is alerting on these findings now: left to it", "findings", plan.Busy)
	}
	return raced, nil
}

// release gives up the claims after a failed publish, so the retry claims
// them again at once; a claim not released lapses at its deadline.
func (m *Monitor) release(ctx context.Context, held []claimed, token string) {
	for _, c := range held {
		if err := m.State.Release(context.WithoutCancel(ctx), c.item, token); err != nil {
			m.log().Warn("claim not released: it lapses at its deadline", "key", c.item.Key, "finding", c.item.ID, "error", err.Error())
		}
	}
}

// claimUntil is when this invocation's claims lapse: its deadline (after
// it, Lambda has stopped the invocation), at most maxClaim from now.
func (m *Monitor) claimUntil(ctx context.Context, now time.Time) time.Time {
	const maxClaim = 15 * time.Minute
	d := maxClaim
	if dl, ok := ctx.Deadline(); ok {
		d = min(time.Until(dl)+time.Second, maxClaim)
	}
	return now.Add(d)
}

func claimToken() string {
	b := make([]byte, 16)
	rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	return hex.EncodeToString(b)
}

func openedBy(ev *kmsevent.Event) string {
	if ev == nil {
		return "sweep"
	}
	return clip(ev.EventName) + " " + clip(ev.EventID)
}

// oneTime are the codes about an event rather than about the key as it
// is: said once per identity, never resolved by their absence.
var oneTime = map[finding.Code]bool{
	check.CodeGrantRevoked:          true,
	check.CodeAttemptedChangeDenied: true,
	check.CodePolicyLockoutBypass:   true,
}

// judgement is a report as the state rule sees it. complete is false when
// a read failed; a reading with an undecided finding (the monitor denied,
// a policy it cannot evaluate) is not complete either, so it resolves
// nothing. RESTORED is not a problem: the RESOLVED alert says it instead.
// source holds the check's finding behind each of j.Findings.
func judgement(rep check.Report, ev *kmsevent.Event, complete bool) (j state.Judgement, source []check.Finding) {
	j = state.Judgement{Key: rep.Key.ARN, Complete: complete, By: openedBy(ev)}
	for _, f := range rep.Findings {
		code := f.Code
		switch {
		case code == check.CodeRestored:
			continue
		case code == check.CodeKeyNotFound:
			j.Deleted = true
		case f.Undecided || code == check.CodePolicyUnreadable:
			j.Complete = false
		}
		j.Findings = append(j.Findings, state.Observed{
			ID:          findingID(f, rep.Trigger, ev),
			Code:        string(code),
			Severity:    string(f.Severity),
			Fingerprint: fingerprint(f, rep.Key),
			Message:     f.Message,
			OneTime:     oneTime[code],
		})
		source = append(source, f)
	}
	return j, source
}

// findingID is a finding's identity: its code and what it is about (the
// permission and principal; for a grant removal the grant; for another
// finding about an event the event).
func findingID(f check.Finding, t *check.Trigger, ev *kmsevent.Event) string {
	var about []string
	switch code := f.Code; {
	case code == check.CodeGrantRevoked && t != nil && t.GrantID != "":
		about = append(about, "grant:"+t.GrantID)
	case oneTime[code] && ev != nil:
		about = append(about, "event:"+ev.EventID)
	default:
		for _, s := range []string{f.Action, f.Principal} {
			if s != "" {
				about = append(about, s)
			}
		}
	}
	id := string(f.Code)
	if q := strings.Join(about, "#"); q != "" {
		if len(q) > 200 {
			// Outside text (a grant id, an event id) of any length: a
			// DynamoDB sort key is at most 1 KB.
			sum := sha256.Sum256([]byte(q))
			q = "sha256:" + hex.EncodeToString(sum[:])
		}
		id += "#" + q
	}
	return id
}

// fingerprint summarises a finding's evidence: what changes it is news
// (a severity, a decision, the deciding statements, the key's state, a
// deletion date), what does not is not (the wording, the FSx resources on
// the key, which come and go with every backup).
func fingerprint(f check.Finding, k check.Key) string {
	st := append([]string(nil), f.Statements...)
	sort.Strings(st)
	parts := []string{string(f.Code), string(f.Severity), f.Action, f.Principal, f.Decision, strings.Join(st, "\x1f"), k.State}
	if !k.DeletionDate.IsZero() {
		parts = append(parts, k.DeletionDate.UTC().Format(time.RFC3339))
	}
	if !k.ValidTo.IsZero() {
		parts = append(parts, k.ValidTo.UTC().Format(time.RFC3339))
	}
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x1e")))
	return hex.EncodeToString(sum[:12])
}

// findingsNotice says why an alert on a key's findings goes out now: the
// most telling reason among those held (new, changed, unsent, reminder)
// and, for a problem already open, since when.
func findingsNotice(held []claimed, now time.Time, remindAfter time.Duration) *alert.Notice {
	rank := map[state.Reason]int{state.New: 0, state.Changed: 1, state.Unsent: 2, state.Reminder: 3}
	n := &alert.Notice{Reason: state.Reminder}
	best := rank[state.Reminder]
	for _, c := range held {
		if r := rank[c.send.Reason]; r < best {
			best, n.Reason = r, c.send.Reason
		}
		if c.send.Reason == state.New {
			continue
		}
		if first := c.send.Item.FirstSeen; n.OpenSince.IsZero() || first.Before(n.OpenSince) {
			n.OpenSince = first
		}
		n.AlertsBefore = max(n.AlertsBefore, c.send.Item.NotifyCount)
	}
	if !n.OpenSince.IsZero() {
		n.OpenFor = state.Lasted(now.Sub(n.OpenSince))
	}
	if remindAfter == 0 {
		remindAfter = state.DefaultRemindAfter
	}
	if remindAfter > 0 {
		n.RemindAfter = remindAfter.String()
	}
	return n
}

// resolvedAlert names the problems that are over, for how long each was
// open, and the key as it is now.
func (m *Monitor) resolvedAlert(kr *KeyResult, ev *kmsevent.Event, over []claimed, now time.Time) alert.Alert {
	a := m.toAlert(kr, ev)
	a.Severity = alert.Info
	a.Findings = nil
	n := &alert.Notice{Reason: finding.ReasonResolved}
	why := ""
	if kr.Status == StatusUnused {
		why = ", because FSx no longer uses the key (no file system, backup or cache in the sweep's FSx listing names it)"
	}
	for _, c := range over {
		it := c.item
		lasted := state.Lasted(now.Sub(it.FirstSeen))
		n.Resolved = append(n.Resolved, it.Code)
		if n.OpenSince.IsZero() || it.FirstSeen.Before(n.OpenSince) {
			n.OpenSince = it.FirstSeen
		}
		a.Findings = append(a.Findings, alert.Finding{
			Code:     finding.Resolved,
			Severity: alert.Info,
			Message: fmt.Sprintf("%s is over after %s%s: first seen %s (by %s), %d alert(s) sent. It said: %s",
				it.Code, lasted, why, it.FirstSeen.UTC().Format(time.RFC3339), it.OpenedBy, it.NotifyCount, it.Message),
		})
	}
	n.OpenFor = state.Lasted(now.Sub(n.OpenSince))
	a.Notice = n
	return a
}
