package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fsxkms/fsxkms/pkg/alert"
)

// orgRepeat is how soon after a round another is taken for a repeat of it
// (a schedule event delivered twice): no work item can have reported in
// between, so it sends no summary and moves no round time.
const orgRepeat = time.Minute

// orgScope is the scope of the organization sweep's own summary in State;
// no Region and no account/Region work item is spelt so.
const orgScope = "organization"

// OrgSummary is the organization's sweep as its work items reported it:
// the latest summary of every account and Region, summed. The workers of a
// round run after the round's enqueue, so each round reports the round
// before it.
type OrgSummary struct {
	// Targets counts the accounts × Regions of this round.
	Targets int `json:"targets"`
	// Reported counts those swept since the previous round; NotSwept
	// those that were not (a work item that failed, a read role STS
	// refuses, a worker that never ran), whose older counts, if any, are
	// still summed.
	Reported int `json:"reported"`
	NotSwept int `json:"notSwept"`
	// Swept sums the counts of the targets' latest sweep summaries:
	// keys checked, compliant, noncompliant, unknown and unreadable, FSx
	// resources.
	Swept Summary `json:"swept"`
}

// orgMemory is what a round keeps for the next: its summary and when it
// enqueued.
type orgMemory struct {
	OrgSummary
	At time.Time `json:"at"`
}

// summarizeOrg sums the work items' sweep summaries for the targets ts of
// the round about to be enqueued and, as mode says, publishes the sum as
// one INFO alert: in auto mode when it differs from the previous round's.
// The first round, with no previous one to tell fresh reports from old,
// sends nothing, and so does a round queued less than orgRepeat after the
// previous one. It returns what the round should remember (nil without
// State, in never mode or for a repeat), its time still the previous
// round's: the caller moves it on once the round is enqueued
// (rememberOrg), so that a retried round neither counts every pair as not
// swept nor sends its summary twice.
func (m *Monitor) summarizeOrg(ctx context.Context, ts []Target, mode SummaryMode) (*orgMemory, error) {
	if m.State == nil || mode == SummaryNever {
		return nil, nil
	}
	stored, err := m.State.Summaries(ctx, m.now())
	if err != nil {
		return nil, fmt.Errorf("organization summary: %w", err)
	}
	var prev orgMemory
	var havePrev bool
	reports := map[string]sweepReport{}
	for _, s := range stored {
		if s.Scope == orgScope {
			havePrev = json.Unmarshal([]byte(s.Summary), &prev) == nil
			continue
		}
		var r sweepMemory
		if json.Unmarshal([]byte(s.Summary), &r) == nil {
			reports[s.Scope] = sweepReport{r.summaryCounts, s.At}
		}
	}
	if havePrev && m.now().Sub(prev.At) < orgRepeat {
		m.log().Info("organization summary skipped: the previous round was queued less than a minute ago", "previous", prev.At)
		return nil, nil
	}
	sum := OrgSummary{Targets: len(ts)}
	for _, t := range ts {
		r, ok := reports[t.Account+"/"+t.Region]
		if ok && r.at.After(prev.At) {
			sum.Reported++
		} else {
			sum.NotSwept++
		}
		if ok {
			sum.Swept.Add(r.counts.summary())
		}
	}
	send := havePrev && (mode == SummaryAlways || sum != prev.OrgSummary)
	if send {
		if err := m.Alerts.Publish(ctx, orgSummaryAlert(sum)); err != nil {
			m.log().Error("organization summary not sent", "error", err.Error())
			return nil, fmt.Errorf("publish the organization summary: %w", err)
		}
	}
	m.log().Info("organization summary", "targets", sum.Targets, "reported", sum.Reported, "notSwept", sum.NotSwept,
		"keysChecked", sum.Swept.KeysChecked, "noncompliant", sum.Swept.Noncompliant, "unknown", sum.Swept.Unknown, "sent", send)
	return &orgMemory{OrgSummary: sum, At: prev.At}, nil
}

// rememberOrg keeps a round's summary for the next round.
func (m *Monitor) rememberOrg(ctx context.Context, mem orgMemory) {
	b, _ := json.Marshal(mem)
	if err := m.State.PutSummary(ctx, orgScope, string(b), m.now()); err != nil {
		m.log().Warn("organization summary not stored: the next round sends its summary", "error", err.Error())
	}
}

// sweepReport is one work item's latest sweep: its counts and when.
type sweepReport struct {
	counts summaryCounts
	at     time.Time
}

// orgSummaryAlert renders an organization summary as an INFO alert.
func orgSummaryAlert(o OrgSummary) alert.Alert {
	s := o.Swept
	msg := fmt.Sprintf("The latest sweeps of %d account/Region pairs checked %d KMS keys used by %d FSx resources: "+
		"%d compliant, %d noncompliant, %d unknown, %d unreadable.",
		o.Targets, s.KeysChecked, s.Resources, s.Compliant, s.Noncompliant, s.Unknown, s.Unreadable)
	if o.NotSwept > 0 {
		msg += fmt.Sprintf(" %d of them were not swept since the previous round (a failed work item, in the sweep queue's dead-letter queue, or a read role STS refused): their keys are counted as last seen, or not at all.", o.NotSwept)
	}
	return sweepAlert(s.status(o.NotSwept > 0),
		fmt.Sprintf("fsxkms organization sweep: %d account/Region pairs, %d keys, %d noncompliant, %d unknown, %d not swept",
			o.Targets, s.KeysChecked, s.Noncompliant, s.Unknown, o.NotSwept), msg)
}
