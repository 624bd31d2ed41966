package monitor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/fsxkms/fsxkms/pkg/alert"
	"github.com/fsxkms/fsxkms/pkg/check"
)

// DefaultConcurrency is how many keys a sweep reads at once.
const DefaultConcurrency = 8

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
	Alerts       int           `json:"alerts"`
	AlertsFailed int           `json:"alertsFailed"`
	Duration     time.Duration `json:"durationNs"`
}

// KeyReport is one key's outcome in a sweep.
type KeyReport struct {
	Report check.Report
	// Calls lists the KMS operations made for the key, in order.
	Calls []string
	// Err is set when the key could not be read at all (other than
	// AccessDenied or NotFound, which are findings); Report then holds a
	// MONITOR_READ_FAILED finding.
	Err error
	// TimedOut is set when the key's reads ran out of time (the per-key
	// budget or the sweep's deadline); Err is then set too.
	TimedOut bool
	// Alerted is set when an alert for the key was published.
	Alerted bool
	// PublishErr is set when the key's alert could not be published.
	PublishErr error
}

// Sweep checks every key FSx uses, once each, with bounded concurrency, and
// returns the reports sorted noncompliant first, then unknown, then
// compliant, each by key ARN. One unreadable key does not stop it: it is
// reported and counted. Sweep returns an error when FSx cannot be listed,
// when not one key could be read, or when an alert could not be published
// (an alert is never lost silently); the summary and reports are still
// returned in the last two cases.
func (m *Monitor) Sweep(ctx context.Context, opts SweepOptions) (Summary, []KeyReport, error) {
	start := time.Now()
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Summary == "" {
		opts.Summary = SummaryAuto
	}
	if inv, ok := m.Inventory.(interface{ Invalidate() }); ok {
		inv.Invalidate() // a sweep always lists FSx afresh
	}
	inv, _, err := m.Inventory.Get(ctx)
	if err != nil {
		m.log().Error("sweep failed: FSx inventory unavailable", "error", err.Error())
		m.emit(map[string]float64{"SweepFailed": 1})
		return Summary{}, nil, fmt.Errorf("sweep: list FSx: %w", err)
	}
	keyARNs := inv.Keys()
	reports := make([]KeyReport, len(keyARNs))
	sem := make(chan struct{}, opts.Concurrency)
	var wg sync.WaitGroup
	for i, arn := range keyARNs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			reports[i] = m.sweepKey(ctx, arn, inv.ByKey[arn], opts)
		}()
	}
	wg.Wait()
	sortReports(reports)

	s := Summary{KeysChecked: len(keyARNs), Resources: inv.Resources, AWSCalls: inv.Calls}
	var readErrs, publishErrs []error
	for _, r := range reports {
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
		if r.Alerted {
			s.Alerts++
		}
		if r.PublishErr != nil {
			s.AlertsFailed++
			publishErrs = append(publishErrs, r.PublishErr)
		}
	}
	s.Duration = time.Since(start)

	if !opts.NoAlerts && m.wantSummary(opts.Summary, s) {
		if err := m.Alerts.Publish(ctx, summaryAlert(s)); err != nil {
			m.log().Error("sweep summary not sent", "error", err.Error())
			publishErrs = append(publishErrs, fmt.Errorf("publish summary: %w", err))
		}
	}
	m.log().Info("sweep done",
		"keysChecked", s.KeysChecked, "compliant", s.Compliant, "noncompliant", s.Noncompliant,
		"unknown", s.Unknown, "unreadable", s.Unreadable, "timedOut", s.TimedOut, "fsxResources", s.Resources,
		"awsCalls", s.AWSCalls, "alerts", s.Alerts, "alertsFailed", s.AlertsFailed,
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
	if len(readErrs) > 0 && len(readErrs) == len(reports) {
		// Not one key could be judged: fail so the schedule's retry and the
		// failure destination see it.
		errs = append(errs, fmt.Errorf("sweep: no key could be read: %w", readErrs[0]))
	}
	return s, reports, errors.Join(errs...)
}

func (m *Monitor) keyBudget() time.Duration {
	if m.KeyBudget > 0 {
		return m.KeyBudget
	}
	return DefaultKeyBudget
}

// sweepKey reads and checks one key within the per-key budget; its alert
// is published on ctx, outside the budget.
func (m *Monitor) sweepKey(ctx context.Context, arn string, resources []check.Resource, opts SweepOptions) KeyReport {
	budget := m.keyBudget()
	kctx, cancel := context.WithTimeout(ctx, budget)
	done, rep, err := m.checkKey(kctx, arn, keyUse{resources: resources, fresh: true}, nil, false)
	overBudget := kctx.Err() != nil && ctx.Err() == nil
	cancel()
	kr := KeyReport{Report: rep, Calls: done.Calls, Err: err}
	if err != nil {
		// Unreadable for a reason other than AccessDenied or NotFound
		// (throttled beyond retries, 5xx, no answer in time): report it, do
		// not stop the sweep.
		call := "kms"
		if n := len(done.Calls); n > 0 {
			call = "kms:" + done.Calls[n-1] // the call that failed
		}
		msg := err.Error()
		switch {
		case overBudget:
			kr.TimedOut = true
			msg = fmt.Sprintf("timed out: the key's KMS reads took longer than the per-key budget of %s (SWEEP_KEY_BUDGET); "+
				"the other keys were judged: %s", budget, msg)
		case ctx.Err() != nil:
			kr.TimedOut = true
			msg = fmt.Sprintf("timed out: the sweep's deadline passed before the key was read (%v): %s", context.Cause(ctx), msg)
		}
		kr.Report = check.Check(check.Input{
			Key:       rep.Key,
			Resources: resources,
			Errors:    []check.ReadError{{Call: call, Kind: check.OtherError, Message: msg}},
			Now:       m.now(),
		})
	}
	if opts.NoAlerts || kr.Report.Status == check.Compliant {
		return kr
	}
	if perr := m.Alerts.Publish(ctx, ToAlert(kr.Report, nil)); perr != nil {
		m.log().Error("alert not sent", "key", arn, "status", string(kr.Report.Status), "error", perr.Error())
		kr.PublishErr = fmt.Errorf("publish alert for %s: %w", arn, perr)
		return kr
	}
	kr.Alerted = true
	return kr
}

func hasCode(r check.Report, code string) bool {
	for _, f := range r.Findings {
		if f.Code == code {
			return true
		}
	}
	return false
}

// summaryAlert renders a sweep summary as an INFO alert.
func summaryAlert(s Summary) alert.Alert {
	status := alert.Compliant
	if s.Noncompliant > 0 {
		status = alert.Noncompliant
	} else if s.Unknown > 0 || s.Unreadable > 0 {
		status = alert.Unknown
	}
	return alert.Alert{
		Schema:   alert.Schema,
		Severity: alert.Info,
		Status:   status,
		Title: fmt.Sprintf("fsxkms sweep: %d keys, %d noncompliant, %d unknown, %d FSx resources",
			s.KeysChecked, s.Noncompliant, s.Unknown, s.Resources),
		Trigger: alert.Trigger{Source: alert.SourceSweep, EventName: "ScheduledSweep"},
		Findings: []alert.Finding{{
			Code:     "SWEEP_SUMMARY",
			Severity: alert.Info,
			Message: fmt.Sprintf("Checked %d KMS keys used by %d FSx file systems and backups: %d compliant, %d noncompliant, "+
				"%d unknown, %d unreadable, in %s with %d AWS calls.",
				s.KeysChecked, s.Resources, s.Compliant, s.Noncompliant, s.Unknown, s.Unreadable,
				s.Duration.Round(time.Millisecond), s.AWSCalls),
		}},
	}
}

var (
	lastMu      sync.Mutex
	lastSummary *Summary
)

// wantSummary applies the summary mode; auto compares with this process's
// previous sweep (a warm Lambda keeps it).
func (m *Monitor) wantSummary(mode SummaryMode, s Summary) bool {
	lastMu.Lock()
	prev := lastSummary
	cur := s
	lastSummary = &cur
	lastMu.Unlock()
	switch mode {
	case SummaryAlways:
		return true
	case SummaryNever:
		return false
	}
	if s.Noncompliant > 0 || s.Unknown > 0 || s.Unreadable > 0 {
		return true
	}
	return prev == nil || prev.KeysChecked != s.KeysChecked || prev.Compliant != s.Compliant || prev.Resources != s.Resources
}

// sortReports orders reports: noncompliant first, then unknown, then by key.
func sortReports(rs []KeyReport) {
	rank := map[check.Status]int{check.Noncompliant: 0, check.Unknown: 1, check.Compliant: 2}
	sort.SliceStable(rs, func(i, j int) bool {
		ri, rj := rank[rs[i].Report.Status], rank[rs[j].Report.Status]
		if ri != rj {
			return ri < rj
		}
		return rs[i].Report.Key.ARN < rs[j].Report.Key.ARN
	})
}
