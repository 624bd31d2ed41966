package monitor

import (
	"context"
	"time"

	"github.com/fsxkms/fsxkms/pkg/check"
	"github.com/fsxkms/fsxkms/pkg/state"
)

// Tracker receives the problems fsxkms tracks about each key it judged,
// after the key's alerts went out, so that another system of record (AWS
// Security Hub) follows fsxkms's own state and never reads it back. It
// needs State: without it nothing is tracked.
type Tracker interface {
	// Track records one judged key: the problems open on it now and those
	// this judgement closed. It may batch; Flush sends the batch.
	Track(ctx context.Context, t Tracked) error
	// Flush sends what Track batched. The event path calls it at the end
	// of each invocation and the sweep at its end; its error fails them,
	// so that Lambda retries.
	Flush(ctx context.Context) error
}

// Tracked is one judged key as a Tracker sees it.
type Tracked struct {
	// Report is the check's report on the key now (its key, aliases and
	// FSx resources).
	Report check.Report
	// Open are the key's problems open after this judgement, one per
	// identity.
	Open []TrackedFinding
	// Closed are the problems this judgement closed: resolved, or
	// superseded by the key's deletion; on a sweep also the problems
	// resolved earlier that the table still remembers, so that a close a
	// failed Flush lost is sent again.
	Closed []state.Item
	// Now is when the key was judged.
	Now time.Time
	// Sweep is set when the sweep judged it: a Tracker re-sends every open
	// problem then, so that none lapses where it is kept.
	Sweep bool
}

// TrackedFinding is an open problem: its identity in the state table, when
// it was first seen, and the finding as the check reported it now.
type TrackedFinding struct {
	ID        string
	FirstSeen time.Time
	Finding   check.Finding
}

// track hands a judged key's tracked problems to m.Tracker: the report's
// findings (what the state rule observed), with the first sighting each
// item records, and the items the plan closed.
func (m *Monitor) track(ctx context.Context, kr *KeyResult, j state.Judgement, source []check.Finding, items []state.Item,
	plan state.Plan, sweep bool) error {
	if m.Tracker == nil || m.State == nil {
		return nil
	}
	now := m.now()
	first := map[string]time.Time{}
	for _, it := range items {
		if it.Status == state.Open && !it.Expires.IsZero() && now.Before(it.Expires) {
			first[it.ID] = it.FirstSeen
		}
	}
	t := Tracked{Report: kr.Report, Now: now, Sweep: sweep}
	seen := map[string]bool{}
	for i, o := range j.Findings {
		if seen[o.ID] {
			continue
		}
		seen[o.ID] = true
		fs, ok := first[o.ID]
		if !ok {
			fs = now
		}
		t.Open = append(t.Open, TrackedFinding{ID: o.ID, FirstSeen: fs, Finding: source[i]})
	}
	t.Closed = append(append(t.Closed, plan.Resolve...), plan.Supersede...)
	if sweep {
		// A Flush that failed after an event resolved a problem is not
		// retried with it (the retry finds it resolved already): the sweep
		// closes again every problem resolved within the table's memory.
		for _, it := range items {
			if it.Status == state.Resolved && !it.Expires.IsZero() && now.Before(it.Expires) {
				t.Closed = append(t.Closed, it)
			}
		}
	}
	return m.Tracker.Track(ctx, t)
}
