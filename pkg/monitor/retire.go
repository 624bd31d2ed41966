package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/fsxkms/fsxkms/pkg/check"
)

// StatusUnused is the status of a KeyResult for a key that an earlier
// sweep left with problems and that FSx no longer uses: the sweep closed
// its problems (see retire).
const StatusUnused = "NO_LONGER_USED"

// maxWatched bounds the keys a sweep remembers as having problems (the
// summary item stays far below DynamoDB's 400 KB item size).
const maxWatched = 2000

// sweepMemory is what a sweep keeps in State for the next sweep of its
// scope: the counts "changed since the last sweep" compares, and the keys
// it left with problems.
type sweepMemory struct {
	summaryCounts
	// Watched are the keys the sweep left noncompliant or unknown, and
	// those whose problems it could not close: a later sweep whose FSx
	// listing no longer names one closes its problems.
	Watched []string `json:"watched,omitempty"`
}

// lastSweep reads what the previous sweep of scope stored; ok is false
// when there is none (or it expired, or it is not a sweep's memory).
func (m *Monitor) lastSweep(ctx context.Context, scope string) (prev sweepMemory, ok bool, err error) {
	stored, ok, err := m.State.Summary(ctx, scope, m.now())
	if err != nil || !ok {
		return sweepMemory{}, false, err
	}
	if json.Unmarshal([]byte(stored), &prev) != nil {
		return sweepMemory{}, false, nil
	}
	return prev, true, nil
}

// retire closes the problems of the keys in watched that FSx no longer
// uses (inUse is the sweep's listing): with no file system, backup or
// cache on a key, nothing is at risk there any more, so each such key's
// open problems end with one RESOLVED alert saying why (and their Security
// Hub findings are archived) instead of staying open until they expire.
// One-time findings (about an event) are left to expire, as everywhere.
// The key is not read: what FSx no longer uses is out of fsxkms's watch.
func (m *Monitor) retire(ctx context.Context, watched, inUse []string) []KeyResult {
	used := make(map[string]bool, len(inUse))
	for _, arn := range inUse {
		used[arn] = true
	}
	var out []KeyResult
	for _, arn := range watched {
		if used[arn] {
			continue
		}
		kr := KeyResult{KeyARN: arn, Status: StatusUnused,
			Report: check.Report{Key: check.Key{ARN: arn}, Status: check.Compliant}}
		if err := m.deliver(ctx, &kr, nil); err != nil {
			kr.PublishErr = fmt.Errorf("close the problems of %s, which FSx no longer uses: %w", arn, err)
		}
		out = append(out, kr)
	}
	if len(out) > 0 {
		m.log().Info("keys FSx no longer uses: their problems are closed", "keys", len(out))
	}
	return out
}

// watch returns the keys a sweep leaves with problems, for the next sweep:
// those judged noncompliant or unknown, and those retire could not close.
func watch(results, retired []KeyResult) []string {
	var keys []string
	for _, r := range results {
		if r.Report.Status != check.Compliant {
			keys = append(keys, r.KeyARN)
		}
	}
	for _, r := range retired {
		if r.PublishErr != nil {
			keys = append(keys, r.KeyARN)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}
