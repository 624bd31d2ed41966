package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/fsxkms/fsxkms/internal/retry"
)

// What every alert put on an event bus carries: rules match on them.
const (
	EventSource     = "fsxkms"
	EventDetailType = "fsxkms Alert"
)

// PutEvents limits (EventBridge API reference): entries per call, and the
// size of one entry as EventBridge counts it (Source, DetailType, Detail
// and each Resources entry, in UTF-8 bytes).
const (
	MaxEventsPerCall = 10
	MaxEventBytes    = 256 * 1024
)

// eventAttempts is how often a failed entry is sent before PublishAll
// returns it as an error.
const eventAttempts = 3

// EventBridgeAPI is the part of the EventBridge client EventBridge needs;
// *eventbridge.Client has it.
type EventBridgeAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// EventBridge puts each alert on an event bus as one event: source
// EventSource, detail-type EventDetailType, detail the machine form
// (shortened, as for SNS, when it would pass MaxEventBytes) and the key ARN
// as its resource. Users route it with rules (API destinations, Step
// Functions, another account's bus).
type EventBridge struct {
	client EventBridgeAPI
	bus    string
	log    *slog.Logger
	// wait sleeps between attempts at failed entries; tests make it instant.
	wait func(ctx context.Context, d time.Duration) error
}

// NewEventBridge returns a Publisher for the bus (its ARN, which
// CheckEventBusARN accepts). The client's retryer retries whole calls; an
// entry the bus refuses is sent again, eventAttempts times in all.
func NewEventBridge(client EventBridgeAPI, busARN string, opts ...Option) *EventBridge {
	return &EventBridge{client: client, bus: busARN, log: newOptions(opts).log, wait: retry.Sleep}
}

// Publish puts a on the bus.
func (e *EventBridge) Publish(ctx context.Context, a Alert) error {
	return e.PublishAll(ctx, []Alert{a})
}

// PublishAll puts the alerts on the bus, at most MaxEventsPerCall per
// PutEvents call. Entries the bus refuses (FailedEntryCount) are sent again;
// those still refused after eventAttempts are returned as an error naming
// their error codes.
func (e *EventBridge) PublishAll(ctx context.Context, as []Alert) error {
	if e.client == nil {
		return errors.New("alert: put on event bus: no EventBridge client")
	}
	entries := make([]types.PutEventsRequestEntry, 0, len(as))
	for _, a := range as {
		en, shortened, err := e.entry(a)
		if err != nil {
			return fmt.Errorf("alert: put on %s: %w", e.bus, err)
		}
		if shortened {
			e.log.WarnContext(ctx, "alert shortened to fit the EventBridge entry limit",
				"key", a.Key.ARN, "code", a.Code(), "resources", len(a.Resources), "findings", len(a.Findings))
		}
		entries = append(entries, en)
	}
	var errs []error
	for start := 0; start < len(entries); start += MaxEventsPerCall {
		if err := e.put(ctx, entries[start:min(start+MaxEventsPerCall, len(entries))]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// put sends one call's entries, and the refused ones again.
func (e *EventBridge) put(ctx context.Context, entries []types.PutEventsRequestEntry) error {
	var refused []string
	for attempt := 1; ; attempt++ {
		out, err := e.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			return fmt.Errorf("alert: put %d event(s) on %s: %w", len(entries), e.bus, err)
		}
		if len(out.Entries) != len(entries) {
			if out.FailedEntryCount == 0 {
				return nil
			}
			return fmt.Errorf("alert: put on %s: %d of %d entries refused, and the answer does not say which", e.bus, out.FailedEntryCount, len(entries))
		}
		var again []types.PutEventsRequestEntry
		refused = refused[:0]
		for i, r := range out.Entries {
			if r.ErrorCode == nil && r.EventId != nil {
				e.log.InfoContext(ctx, "alert put on the event bus", "bus", e.bus, "eventId", aws.ToString(r.EventId))
				continue
			}
			again = append(again, entries[i])
			refused = append(refused, clip(aws.ToString(r.ErrorCode)+": "+aws.ToString(r.ErrorMessage), 200))
		}
		if len(again) == 0 {
			return nil
		}
		if attempt == eventAttempts {
			break
		}
		e.log.WarnContext(ctx, "event bus refused alerts: sending them again", "bus", e.bus, "refused", len(again), "attempt", attempt, "errors", refused)
		if err := e.wait(ctx, time.Duration(attempt)*200*time.Millisecond); err != nil {
			return fmt.Errorf("alert: put on %s: %d event(s) refused (%s), then %w", e.bus, len(again), strings.Join(refused, "; "), err)
		}
		entries = again
	}
	return fmt.Errorf("alert: put on %s: %d event(s) refused %d times: %s", e.bus, len(refused), eventAttempts, strings.Join(boundAll(refused, 3), "; "))
}

// entry is a's PutEvents entry, and whether its detail was shortened to fit
// MaxEventBytes.
func (e *EventBridge) entry(a Alert) (types.PutEventsRequestEntry, bool, error) {
	en := types.PutEventsRequestEntry{
		Source:       aws.String(EventSource),
		DetailType:   aws.String(EventDetailType),
		EventBusName: aws.String(e.bus),
	}
	budget := MaxEventBytes - sizeMargin - len(EventSource) - len(EventDetailType)
	if k := bound(a.Key.ARN, MaxField); arn.IsARN(k) {
		en.Resources = []string{k}
		budget -= len(k)
	}
	detail, shortened, err := a.machineWithin(budget)
	if err != nil {
		return en, false, err
	}
	en.Detail = aws.String(string(detail))
	return en, shortened, nil
}

// machineWithin is the machine form in at most budget bytes: as is when it
// fits, else with the longest texts cut and then the longest lists, as
// Message shortens it for SNS (an ALERT_TRUNCATED finding says what was
// left out).
func (a Alert) machineWithin(budget int) ([]byte, bool, error) {
	if err := a.Validate(); err != nil {
		return nil, false, err
	}
	a = a.filled()
	b, err := marshal(a)
	if err != nil || len(b) <= budget {
		return b, false, err
	}
	fits := func(c Alert) ([]byte, bool) {
		if c.textBytes() > budget {
			return nil, false
		}
		b, err := marshal(c)
		return b, err == nil && len(b) <= budget
	}
	const floor = 64
	if b, ok := fits(a.capped(floor, -1)); ok {
		_, best := largestFit(floor, min(a.longestText(), budget), b, func(n int) ([]byte, bool) { return fits(a.capped(n, -1)) })
		return best, true, nil
	}
	lo, _ := largestFit(0, a.longestList(), nil, func(n int) ([]byte, bool) { return fits(a.capped(floor, n)) }) // fits(lo) checked below.
	if b, ok := fits(a.capped(floor, lo)); ok {
		return b, true, nil
	}
	b, err = marshal(a.capped(floor, 0))
	return b, true, err
}

// CheckEventBusARN accepts an EventBridge event bus ARN,
// arn:<partition>:events:<region>:<account>:event-bus/<name>, and rejects
// anything else with an error that quotes it.
func CheckEventBusARN(s string) error {
	a, err := arn.Parse(s)
	name, isBus := strings.CutPrefix(a.Resource, "event-bus/")
	if err != nil || a.Partition == "" || a.Service != "events" || a.Region == "" || a.AccountID == "" || !isBus || name == "" {
		return fmt.Errorf("%q is not an event bus ARN (arn:aws:events:<region>:<account>:event-bus/<name>)", s)
	}
	return nil
}

// All returns a Publisher that publishes each alert to every p in turn, to
// all of them even when one fails, and returns their errors joined: the
// invocation then fails and its retry publishes to all of them again (an
// alert repeated beats an alert lost).
func All(ps ...Publisher) Publisher { return all(ps) }

type all []Publisher

func (ps all) Publish(ctx context.Context, a Alert) error {
	var errs []error
	for _, p := range ps {
		if err := p.Publish(ctx, a); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
