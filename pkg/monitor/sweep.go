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

// Summary describes one sweep.
type Summary struct {
	KeysChecked  int           `json:"keysChecked"`
	Compliant    int           `json:"compliant"`
	Noncompliant int           `json:"noncompliant"`
	Unknown      int           `json:"unknown"`
	Unreadable   int           `json:"unreadable"`
	Resources    int           `json:"fsxResources"`
	AWSCalls     int           `json:"awsCalls"`
	Alerts       int           `json:"alerts"`
	Duration     time.Duration `json:"durationNs"`
}

// KeyReport is one key's outcome in a sweep.
type KeyReport struct {
	Report check.Report
	Calls  []string
	// Err is set when the key could not be read at all (other than
	// AccessDenied or NotFound, which are findings).
	Err error
}

// Sweep checks every key FSx uses, once each, with bounded concurrency. One
// unreadable key does not stop it; failing to list FSx does, loudly.
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

	s := Summary{KeysChecked: len(keyARNs), Resources: inv.Resources, AWSCalls: inv.Calls}
	for _, r := range reports {
		s.AWSCalls += len(r.Calls)
		switch {
		case r.Err != nil:
			s.Unreadable++
		case r.Report.Status == check.Noncompliant:
			s.Noncompliant++
		case r.Report.Status == check.Unknown:
			s.Unknown++
			if hasCode(r.Report, check.CodeMonitorAccessDenied) {
				s.Unreadable++
			}
		default:
			s.Compliant++
		}
		if r.Report.Status != check.Compliant && !opts.NoAlerts {
			s.Alerts++
		}
	}
	s.Duration = time.Since(start)

	if !opts.NoAlerts && m.wantSummary(opts.Summary, s) {
		if err := m.Alerts.Publish(ctx, summaryAlert(s)); err != nil {
			return s, reports, fmt.Errorf("sweep: publish summary: %w", err)
		}
	}
	m.log().Info("sweep done",
		"keysChecked", s.KeysChecked, "compliant", s.Compliant, "noncompliant", s.Noncompliant,
		"unknown", s.Unknown, "unreadable", s.Unreadable, "fsxResources", s.Resources,
		"awsCalls", s.AWSCalls, "alerts", s.Alerts, "durationMs", float64(s.Duration.Microseconds())/1000)
	m.emit(map[string]float64{
		"KeysChecked":  float64(s.KeysChecked),
		"Compliant":    float64(s.Compliant),
		"Noncompliant": float64(s.Noncompliant),
		"Unknown":      float64(s.Unknown),
		"Unreadable":   float64(s.Unreadable),
		"FSxResources": float64(s.Resources),
		"AWSCalls":     float64(s.AWSCalls),
		"DurationMs":   float64(s.Duration.Microseconds()) / 1000,
	})
	var errs []error
	for _, r := range reports {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	if len(errs) > 0 && len(errs) == len(reports) {
		// Not one key could be judged: fail so the schedule's retry and the
		// failure destination see it.
		return s, reports, fmt.Errorf("sweep: no key could be read: %w", errs[0])
	}
	return s, reports, nil
}

func (m *Monitor) sweepKey(ctx context.Context, arn string, resources []check.Resource, opts SweepOptions) KeyReport {
	done, rep, err := m.checkKey(ctx, arn, resources, nil, false)
	kr := KeyReport{Report: rep, Calls: done.Calls, Err: err}
	if err != nil {
		// Unreadable for a reason other than AccessDenied or NotFound
		// (throttled beyond retries, 5xx): report it, do not stop the sweep.
		kr.Report = check.Check(check.Input{
			Key:       rep.Key,
			Resources: resources,
			Errors:    []check.ReadError{{Call: "kms", Kind: check.OtherError, Message: err.Error()}},
			Now:       m.now(),
		})
	}
	if opts.NoAlerts || kr.Report.Status == check.Compliant {
		return kr
	}
	if perr := m.Alerts.Publish(ctx, ToAlert(kr.Report, nil)); perr != nil {
		m.log().Error("alert not sent", "key", arn, "error", perr.Error())
		kr.Err = errors.Join(kr.Err, fmt.Errorf("publish alert for %s: %w", arn, perr))
	}
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
