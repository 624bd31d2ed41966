package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/fsxkms/fsxkms/pkg/alert"
	"github.com/fsxkms/fsxkms/pkg/check"
	"github.com/fsxkms/fsxkms/pkg/finding"
)

// DefaultConcurrency is how many keys a sweep reads at once.
const DefaultConcurrency = 8

// MaxConcurrency bounds SWEEP_CONCURRENCY, as the template's
// SweepConcurrency does: beyond it a sweep only meets KMS's request quotas
// sooner.
const MaxConcurrency = 64

// DefaultKeyBudget bounds the KMS reads of one key in a sweep when
// Monitor.KeyBudget is zero (SWEEP_KEY_BUDGET).
const DefaultKeyBudget = 30 * time.Second

// SummaryMode says when a sweep sends its summary as an INFO alert.
type SummaryMode string

// Summary modes (SWEEP_SUMMARY).
const (
	// SummaryAuto sends the summary when a key is noncompliant or unknown,
	// or when the counts changed since this process's previous sweep.
	SummaryAuto SummaryMode = "auto"
	// SummaryAlways sends it after every sweep.
	SummaryAlways SummaryMode = "always"
	// SummaryNever only logs it.
	SummaryNever SummaryMode = "never"
)

// ParseSummaryMode reads a SummaryMode; "" means SummaryAuto.
func ParseSummaryMode(s string) (SummaryMode, error) {
	switch m := SummaryMode(s); m {
	case "":
		return SummaryAuto, nil
	case SummaryAuto, SummaryAlways, SummaryNever:
		return m, nil
	}
	return "", fmt.Errorf("sweep summary mode %q: want auto, always or never", s)
}

// SweepOptions tune a sweep.
type SweepOptions struct {
	// Concurrency bounds the keys read at once; DefaultConcurrency when 0.
	Concurrency int
	// Summary says when the summary becomes an alert.
	Summary SummaryMode
	// NoAlerts only returns the reports (the CLI prints them itself).
	NoAlerts bool

	accountName string // SweepAccount's target's name, for its alerts
}

// Summary describes one sweep. Every key checked is counted once under
// Compliant, Noncompliant or Unknown; Unreadable counts the keys among them
// that the monitor could not (fully) read (MONITOR_ACCESS_DENIED or
// MONITOR_READ_FAILED).
type Summary struct {
	KeysChecked  int `json:"keysChecked"`
	Compliant    int `json:"compliant"`
	Noncompliant int `json:"noncompliant"`
	Unknown      int `json:"unknown"`
	Unreadable   int `json:"unreadable"`
	// TimedOut counts the keys among Unreadable whose reads ran out of
	// time: the per-key budget or the sweep's own deadline.
	TimedOut int `json:"timedOut,omitempty"`
	// Resources counts the FSx file systems and backups listed.
	Resources int `json:"fsxResources"`
	// AWSCalls counts the FSx and KMS calls made (SDK retries not included).
	AWSCalls int `json:"awsCalls"`
	// Alerts counts the key alerts sent; AlertsFailed those that could not
	// be sent (the sweep then returns an error).
	Alerts       int `json:"alerts"`
	AlertsFailed int `json:"alertsFailed"`
	// NoLongerUsed counts the keys an earlier sweep left with problems
	// that FSx no longer uses: their problems were closed (State only).
	NoLongerUsed int `json:"noLongerUsed,omitempty"`
	// SummarySent is set when the summary itself went out as an alert.
	SummarySent bool          `json:"summarySent"`
	Duration    time.Duration `json:"durationNs"`
}

// Sweep checks every key FSx uses, once each, with bounded concurrency, and
// returns the reports sorted noncompliant first, then unknown, then
// compliant, each by key ARN. One unreadable key does not stop it: it is
// reported and counted. Sweep returns an error when FSx cannot be listed,
// when not one key could be read, or when an alert could not be published
// (an alert is never lost silently); the summary and reports are still
// returned in the last two cases.
func (m *Monitor) Sweep(ctx context.Context, opts SweepOptions) (Summary, []KeyResult, error) {
	r, _ := m.reader(ctx, "", "")
	return m.sweep(ctx, r, m.scope(), opts)
}

// SweepAccount is Sweep of one account and Region of an organization,
// read with the account's read role (Readers): the work item of the
// organization's sweep (DEPLOYMENT=central). A read role STS refuses is
// one MONITOR_ACCESS_DENIED alert naming it, and the account counts as
// unreadable; any other failure to read the account is an error (the work
// item is retried).
func (m *Monitor) SweepAccount(ctx context.Context, t Target, opts SweepOptions) (Summary, []KeyResult, error) {
	account, region := t.Account, t.Region
	opts.accountName = t.Name
	r, err := m.reader(ctx, account, region)
	if err == nil {
		return m.sweep(ctx, r, account+"/"+region, opts)
	}
	re, ok := errors.AsType[*RoleError](err)
	if !ok || !re.Refused() {
		return Summary{}, nil, fmt.Errorf("sweep %s in %s: %w", account, region, err)
	}
	kr := m.unreadable(re.Role, nil, nil, re)
	kr.AccountName = t.Name
	if !opts.NoAlerts {
		if err := m.deliver(ctx, &kr, nil); err != nil {
			kr.PublishErr = fmt.Errorf("alert for %s: %w", re.Role, err)
		}
	}
	s := Summary{Unknown: 1, Unreadable: 1, Alerts: len(kr.Sent)}
	if kr.PublishErr != nil {
		s.AlertsFailed = 1
		return s, []KeyResult{kr}, kr.PublishErr
	}
	return s, []KeyResult{kr}, nil
}

// sweep judges every key r's FSx inventory names; scope names the sweep's
// summary item in State.
func (m *Monitor) sweep(ctx context.Context, r *Reader, scope string, opts SweepOptions) (Summary, []KeyResult, error) {
	start := time.Now()
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Summary == "" {
		opts.Summary = SummaryAuto
	}
	inv, err := r.Inventory.Refresh(ctx) // a sweep always lists FSx afresh
	if err != nil {
		m.log().Error("sweep failed: FSx inventory unavailable", "error", err.Error())
		m.emit(map[string]float64{"SweepFailed": 1})
		return Summary{}, nil, fmt.Errorf("sweep: list FSx: %w", err)
	}
	var prev sweepMemory
	var prevOK bool
	var prevErr error
	if m.State != nil && !opts.NoAlerts {
		prev, prevOK, prevErr = m.lastSweep(ctx, scope)
		if prevErr != nil {
			m.log().Error("previous sweep not read from the alert state: keys FSx stopped using keep their problems open until a later sweep",
				"error", prevErr.Error())
		}
	}
	keyARNs := inv.Keys()
	results := make([]KeyResult, len(keyARNs))
	fanOut(len(keyARNs), opts.Concurrency, func(i int) {
		arn := keyARNs[i]
		kr := m.judge(ctx, r, arn, keyUse{resources: inv.ByKey[arn], listed: inv.Listed[arn], fresh: true}, nil, m.keyBudget())
		kr.AccountName = opts.accountName
		if !opts.NoAlerts {
			// The alert goes out on ctx, outside the key's read budget.
			if err := m.deliver(ctx, &kr, nil); err != nil {
				kr.PublishErr = fmt.Errorf("alert for %s: %w", arn, err)
			}
		}
		results[i] = kr
	})
	sortResults(results)

	s := Summary{KeysChecked: len(keyARNs), Resources: inv.Resources, AWSCalls: inv.Calls}
	var readErrs, publishErrs []error
	for _, r := range results {
		s.AWSCalls += len(r.Calls)
		switch r.Report.Status {
		case check.Noncompliant:
			s.Noncompliant++
		case check.Unknown:
			s.Unknown++
		default:
			s.Compliant++
		}
		if r.Err != nil || hasCode(r.Report, check.CodeMonitorAccessDenied) || hasCode(r.Report, check.CodeMonitorReadFailed) {
			s.Unreadable++
		}
		if r.Err != nil {
			readErrs = append(readErrs, r.Err)
		}
		if r.TimedOut {
			s.TimedOut++
		}
		s.Alerts += len(r.Sent)
		if r.PublishErr != nil {
			s.AlertsFailed++
			publishErrs = append(publishErrs, r.PublishErr)
		}
	}
	var retired []KeyResult
	if prevOK {
		retired = m.retire(ctx, prev.Watched, keyARNs)
	}
	s.NoLongerUsed = len(retired)
	for _, r := range retired {
		s.Alerts += len(r.Sent)
		if r.PublishErr != nil {
			s.AlertsFailed++
			publishErrs = append(publishErrs, r.PublishErr)
		}
	}
	watched := watch(results, retired)
	if len(watched) > maxWatched {
		m.log().Warn("more keys with problems than a sweep remembers: should FSx stop using the others, their problems close only when they expire",
			"keys", len(watched), "remembered", maxWatched)
		watched = watched[:maxWatched]
	}
	s.Duration = time.Since(start)

	if m.Tracker != nil && !opts.NoAlerts {
		if err := m.Tracker.Flush(ctx); err != nil {
			publishErrs = append(publishErrs, fmt.Errorf("track findings: %w", err))
		}
	}
	if !opts.NoAlerts {
		send := m.wantSummary(opts.Summary, s, prev, prevOK, prevErr)
		if prevErr != nil && opts.Summary == SummaryAuto {
			// The summary went out for want of the previous one: the
			// retry sends it again once the table answers.
			publishErrs = append(publishErrs, prevErr)
		}
		if send {
			if err := m.Alerts.Publish(ctx, summaryAlert(s)); err != nil {
				m.log().Error("sweep summary not sent", "error", err.Error())
				publishErrs = append(publishErrs, fmt.Errorf("publish summary: %w", err))
			} else {
				s.SummarySent = true
				m.storeSummary(ctx, scope, s, watched)
			}
		} else {
			m.storeSummary(ctx, scope, s, watched)
		}
	}
	m.log().Info("sweep done",
		"keysChecked", s.KeysChecked, "compliant", s.Compliant, "noncompliant", s.Noncompliant,
		"unknown", s.Unknown, "unreadable", s.Unreadable, "timedOut", s.TimedOut, "fsxResources", s.Resources,
		"awsCalls", s.AWSCalls, "alerts", s.Alerts, "alertsFailed", s.AlertsFailed, "noLongerUsed", s.NoLongerUsed,
		"durationMs", float64(s.Duration.Microseconds())/1000)
	m.emit(map[string]float64{
		"KeysChecked":  float64(s.KeysChecked),
		"Compliant":    float64(s.Compliant),
		"Noncompliant": float64(s.Noncompliant),
		"Unknown":      float64(s.Unknown),
		"Unreadable":   float64(s.Unreadable),
		"FSxResources": float64(s.Resources),
		"AWSCalls":     float64(s.AWSCalls),
		"AlertsSent":   float64(s.Alerts),
		"AlertsFailed": float64(s.AlertsFailed),
		"DurationMs":   float64(s.Duration.Microseconds()) / 1000,
	})
	var errs []error
	if len(publishErrs) > 0 {
		errs = append(errs, fmt.Errorf("sweep: %d alert(s) not sent: %w", len(publishErrs), errors.Join(publishErrs...)))
	}
	if len(readErrs) > 0 && len(readErrs) == len(results) {
		// Not one key could be judged: fail so the schedule's retry and the
		// failure destination see it.
		errs = append(errs, fmt.Errorf("sweep: no key could be read: %w", readErrs[0]))
	}
	return s, append(results, retired...), errors.Join(errs...)
}

func (m *Monitor) keyBudget() time.Duration {
	if m.KeyBudget > 0 {
		return m.KeyBudget
	}
	return DefaultKeyBudget
}

func hasCode(r check.Report, code finding.Code) bool {
	for _, f := range r.Findings {
		if f.Code == code {
			return true
		}
	}
	return false
}

// summaryAlert renders a sweep summary as an INFO alert.
func summaryAlert(s Summary) alert.Alert {
	return sweepAlert(s.status(false),
		fmt.Sprintf("fsxkms sweep: %d keys, %d noncompliant, %d unknown, %d FSx resources",
			s.KeysChecked, s.Noncompliant, s.Unknown, s.Resources),
		fmt.Sprintf("Checked %d KMS keys used by %d FSx file systems and backups: %d compliant, %d noncompliant, "+
			"%d unknown, %d unreadable, in %s with %d AWS calls.",
			s.KeysChecked, s.Resources, s.Compliant, s.Noncompliant, s.Unknown, s.Unreadable,
			s.Duration.Round(time.Millisecond), s.AWSCalls))
}

// status is the status a summary's alert carries: noncompliant when a key
// is, else unknown when a key is unknown or unreadable or something was
// not swept (missed), else compliant.
func (s Summary) status(missed bool) alert.Status {
	switch {
	case s.Noncompliant > 0:
		return alert.Noncompliant
	case s.Unknown > 0 || s.Unreadable > 0 || missed:
		return alert.Unknown
	}
	return alert.Compliant
}

// sweepAlert is the INFO SWEEP_SUMMARY alert of a sweep or of the
// organization's sweep.
func sweepAlert(status alert.Status, title, message string) alert.Alert {
	return alert.Alert{
		Schema:   alert.Schema,
		Severity: alert.Info,
		Status:   status,
		Title:    title,
		Trigger:  alert.Trigger{Source: alert.SourceSweep, EventName: "ScheduledSweep"},
		Findings: []alert.Finding{{Code: finding.SweepSummary, Severity: alert.Info, Message: message}},
	}
}

// Add sums o's counts into s (the sweep-worker's answer for a batch of
// work items, the organization summary's sums); Duration and SummarySent
// are left alone.
func (s *Summary) Add(o Summary) {
	s.KeysChecked += o.KeysChecked
	s.Compliant += o.Compliant
	s.Noncompliant += o.Noncompliant
	s.Unknown += o.Unknown
	s.Unreadable += o.Unreadable
	s.TimedOut += o.TimedOut
	s.Resources += o.Resources
	s.AWSCalls += o.AWSCalls
	s.Alerts += o.Alerts
	s.AlertsFailed += o.AlertsFailed
	s.NoLongerUsed += o.NoLongerUsed
}

// summaryCounts is what "changed since the last sweep" compares.
type summaryCounts struct {
	KeysChecked, Compliant, Noncompliant, Unknown, Unreadable, Resources int
}

func countsOf(s Summary) summaryCounts {
	return summaryCounts{s.KeysChecked, s.Compliant, s.Noncompliant, s.Unknown, s.Unreadable, s.Resources}
}

// summary is the Summary with these counts.
func (c summaryCounts) summary() Summary {
	return Summary{KeysChecked: c.KeysChecked, Compliant: c.Compliant, Noncompliant: c.Noncompliant,
		Unknown: c.Unknown, Unreadable: c.Unreadable, Resources: c.Resources}
}

// wantSummary applies the summary mode. In auto mode with State, the
// summary goes out when the counts changed since the previous sweep (prev,
// kept in the table across cold starts; ok false when there was none) or
// when that sweep could not be read (prevErr); without State, as well
// whenever a key is noncompliant, unknown or unreadable, compared with this
// process's previous sweep.
func (m *Monitor) wantSummary(mode SummaryMode, s Summary, prev sweepMemory, ok bool, prevErr error) bool {
	switch mode {
	case SummaryAlways:
		return true
	case SummaryNever:
		return false
	}
	cur := countsOf(s)
	if m.State == nil {
		m.mu.Lock()
		last := m.lastSummary
		m.lastSummary = &s
		m.mu.Unlock()
		if s.Noncompliant > 0 || s.Unknown > 0 || s.Unreadable > 0 {
			return true
		}
		return last == nil || countsOf(*last) != cur
	}
	return prevErr != nil || !ok || prev.summaryCounts != cur
}

// storeSummary keeps the sweep's counts and the keys it left with problems
// (watched) for the next sweep (State only).
func (m *Monitor) storeSummary(ctx context.Context, scope string, s Summary, watched []string) {
	if m.State == nil {
		return
	}
	b, _ := json.Marshal(sweepMemory{summaryCounts: countsOf(s), Watched: watched})
	if err := m.State.PutSummary(ctx, scope, string(b), m.now()); err != nil {
		m.log().Warn("sweep summary not stored: the next sweep sends its summary", "error", err.Error())
	}
}

func (m *Monitor) scope() string {
	if m.Scope != "" {
		return m.Scope
	}
	return "default"
}

// sortResults orders results: noncompliant first, then unknown, then by key.
func sortResults(rs []KeyResult) {
	rank := map[check.Status]int{check.Noncompliant: 0, check.Unknown: 1, check.Compliant: 2}
	sort.SliceStable(rs, func(i, j int) bool {
		ri, rj := rank[rs[i].Report.Status], rank[rs[j].Report.Status]
		if ri != rj {
			return ri < rj
		}
		return rs[i].Report.Key.ARN < rs[j].Report.Key.ARN
	})
}
