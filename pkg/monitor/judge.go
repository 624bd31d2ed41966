package monitor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/fsxkms/fsxkms/pkg/check"
	"github.com/fsxkms/fsxkms/pkg/inventory"
	"github.com/fsxkms/fsxkms/pkg/keys"
	"github.com/fsxkms/fsxkms/pkg/kmsevent"
)

// Statuses of a KeyResult besides check's own (COMPLIANT, NONCOMPLIANT,
// UNKNOWN).
const (
	// StatusReadFailed: the key could not be read (throttled beyond
	// retries, 5xx, no answer in time); the event is retried, the sweep
	// reports MONITOR_READ_FAILED.
	StatusReadFailed = "ERROR"
	// StatusOutOfScope: the key is not in the custom key store the event
	// is about, so the event says nothing about it.
	StatusOutOfScope = "OUT_OF_SCOPE"
)

// KeyResult is what the monitor did about one key, on the event path and
// in a sweep alike.
type KeyResult struct {
	KeyARN    string `json:"keyArn"`
	EventName string `json:"eventName,omitempty"`
	// AccountName is the name of the account swept, when Organizations
	// gave it (the organization's sweep).
	AccountName string `json:"accountName,omitempty"`
	// Status is the report's status, StatusReadFailed or StatusOutOfScope.
	Status string   `json:"status"`
	Codes  []string `json:"codes,omitempty"`
	// Calls lists the KMS operations made for the key, in order.
	Calls []string `json:"calls"`
	// Sent lists the alerts published about the key: NEW, CHANGED,
	// UNSENT or REMINDER for an alert on its findings, RESOLVED for one
	// naming what was fixed, ALERT without State.
	Sent []string `json:"sent,omitempty"`
	// Busy counts the findings another invocation was alerting on at the
	// same moment (State): left to it.
	Busy int `json:"busy,omitempty"`
	// Report is the check's report. When the key could not be read it
	// holds a MONITOR_READ_FAILED finding.
	Report check.Report `json:"-"`
	// Err is set when the key could not be read (other than AccessDenied
	// or NotFound, which are findings).
	Err error `json:"-"`
	// TimedOut is set when the key's reads ran out of time (the per-key
	// budget or the caller's deadline); Err is then set too.
	TimedOut bool `json:"timedOut,omitempty"`
	// PublishErr is set when an alert, or the state that goes with it,
	// could not be written: the caller fails so that Lambda retries.
	PublishErr error `json:"-"`
}

// Alerted reports whether an alert about the key was published.
func (r KeyResult) Alerted() bool { return len(r.Sent) > 0 }

// keyUse is what the inventory says about one key: the FSx resources on it,
// whether FSX_KEY_ARNS lists it, and whether the listing was read for this
// event (fresh) or reused from the cache. reread lists FSx again, at most
// once per event, to confirm a cached listing before a grant removal is
// called CRITICAL; nil when there is nothing to confirm (a sweep lists FSx
// afresh).
type keyUse struct {
	resources []check.Resource
	listed    bool
	fresh     bool
	reread    func() (*inventory.Inventory, error)
}

// judge reads key arn as it is now and checks it; it never publishes.
// ev is the event behind it, nil for a sweep; budget bounds the reads
// (zero: the per-call timeouts alone). A key that cannot be read gets a
// report with a MONITOR_READ_FAILED finding, and Err.
//
// r reads the key, unless the key lives in another account than r's (an
// FSx resource using another account's key): then that account's read role
// does. A read role STS refuses is a MONITOR_ACCESS_DENIED naming it.
func (m *Monitor) judge(ctx context.Context, r *Reader, arn string, use keyUse, ev *kmsevent.Event, budget time.Duration) KeyResult {
	start := time.Now()
	kr := KeyResult{KeyARN: arn}
	kr2, err := m.keyReader(ctx, r, arn)
	if err != nil {
		return m.unreadable(arn, use.resources, ev, err)
	}
	r = kr2
	log := m.log().With("key", arn)
	if ev != nil {
		kr.EventName = ev.EventName
		log = log.With("eventId", clip(ev.EventID), "eventName", clip(ev.EventName))
	}
	rctx := ctx
	if budget > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, budget)
		defer cancel()
	}
	snap, err := keys.Read(rctx, r.KMS, arn)
	kr.Calls = snap.Calls
	in := check.Input{
		Key:        snap.Key,
		Policy:     snap.Policy,
		Grants:     snap.Grants,
		GrantsRead: snap.GrantsRead,
		Resources:  use.resources,
		KeyListed:  use.listed,
		Errors:     snap.Errors,
		Trigger:    trigger(ev),
		Principals: m.Principals,
		Now:        m.now(),
	}
	if err != nil {
		kr.Err, kr.Status = err, StatusReadFailed
		kr.TimedOut = rctx.Err() != nil
		attrs := []any{"error", err.Error(), "calls", snap.Calls}
		if kr.TimedOut {
			attrs = append(attrs, "timedOut", true)
		}
		log.Error("key not judged: KMS read failed", attrs...)
		in.Errors = append(in.Errors, check.ReadError{Call: lastCall(snap.Calls), Kind: check.OtherError,
			Message: readFailure(ctx, rctx, budget, err)})
		in.Trigger = nil // unjudged: the event's own findings wait for the retry
		kr.Report = check.Check(in)
		kr.Codes = codes(kr.Report)
		return kr
	}
	if ev != nil && !inScope(*ev, snap.Key) {
		// An event on a custom key store concerns only the keys in it.
		kr.Status = StatusOutOfScope
		kr.Report = check.Report{Key: snap.Key, Resources: use.resources}
		log.Info("key not in the event's custom key store: not judged for this event",
			"customKeyStoreId", clip(ev.CustomKeyStoreID), "keyStoreId", snap.Key.KeyStoreID, "calls", snap.Calls)
		return kr
	}
	rep := check.Check(in)
	if !use.fresh && use.reread != nil && criticalGrantRemoval(rep) {
		rep, _ = m.confirmGrantRemoval(log, arn, in, rep, use.reread)
	}
	if (len(rep.Findings) > 0 || m.AlwaysAliases) && !gone(snap) {
		// Only a key that will be reported needs its aliases: the common
		// compliant event costs one KMS call less.
		kr.Calls = append(kr.Calls, "ListAliases")
		aliases, err := keys.Aliases(rctx, r.KMS, arn)
		if err != nil {
			log.Warn("aliases not read; the alert names the key by id", "error", err.Error())
		}
		rep.Aliases = aliases
	}
	if ev != nil && ev.Policy != "" && snap.Policy != "" && strings.TrimSpace(ev.Policy) != strings.TrimSpace(snap.Policy) {
		log.Info("the policy in the event differs from the key's policy now; judged the policy as it is now")
	}
	kr.Report, kr.Status, kr.Codes = rep, string(rep.Status), codes(rep)
	log.Info("key checked", "status", kr.Status, "severity", string(rep.Severity), "codes", kr.Codes,
		"resources", len(rep.Resources), "calls", snap.Calls,
		"durationMs", float64(time.Since(start).Microseconds())/1000)
	return kr
}

// unreadable is the result for key arn when its account cannot be read:
// a read role STS refuses is a finding (MONITOR_ACCESS_DENIED naming the
// role); anything else leaves the key unjudged (Err: the event is retried).
func (m *Monitor) unreadable(arn string, resources []check.Resource, ev *kmsevent.Event, err error) KeyResult {
	kr := KeyResult{KeyARN: arn, Status: StatusReadFailed, Err: err}
	if ev != nil {
		kr.EventName = ev.EventName
	}
	key := keyOf(arn)
	in := check.Input{Key: key, Resources: resources, Now: m.now(),
		Errors: []check.ReadError{{Call: "kms", Kind: check.OtherError, Message: err.Error()}}}
	if re, ok := errors.AsType[*RoleError](err); ok && re.Refused() {
		kr.Err = nil
		in.Errors = []check.ReadError{{Call: "sts:AssumeRole " + re.Role, Kind: check.AccessDenied,
			Message: "the member account's read role is missing or does not trust the monitor: " + clip(re.Err.Error())}}
	}
	kr.Report = check.Check(in)
	kr.Codes = codes(kr.Report)
	if kr.Err == nil {
		kr.Status = string(kr.Report.Status)
	}
	m.log().Error("key not read: its account could not be read", "key", clip(arn), "error", clip(err.Error()),
		"status", kr.Status)
	return kr
}

// keyOf is what a key ARN says of the key: its account and Region.
func keyOf(keyARN string) check.Key {
	k := check.Key{ARN: keyARN}
	if a, err := arn.Parse(keyARN); err == nil {
		k.Account, k.Region = a.AccountID, a.Region
	}
	return k
}

// readFailure says why a key could not be read, naming the budget or the
// deadline that ran out.
func readFailure(ctx, rctx context.Context, budget time.Duration, err error) string {
	switch {
	case ctx.Err() != nil:
		return fmt.Sprintf("timed out: the deadline passed before the key was read (%v): %s", context.Cause(ctx), err)
	case rctx.Err() != nil:
		return fmt.Sprintf("timed out: the key's KMS reads took longer than the per-key budget of %s (SWEEP_KEY_BUDGET); "+
			"the other keys were judged: %s", budget, err)
	}
	return err.Error()
}

// lastCall names the call that failed: the last one made.
func lastCall(calls []string) string {
	if len(calls) == 0 {
		return "kms"
	}
	return "kms:" + calls[len(calls)-1]
}

func codes(rep check.Report) []string {
	var cs []string
	for _, f := range rep.Findings {
		cs = append(cs, string(f.Code))
	}
	return cs
}

// inScope reports whether an event concerns key: an event that names a
// custom key store and no key (Connect/DisconnectCustomKeyStore) concerns
// only the keys in that store; any other event concerns its keys.
func inScope(ev kmsevent.Event, key check.Key) bool {
	if len(ev.KeyARNs) > 0 || ev.CustomKeyStoreID == "" || key.State == "" {
		return true // a key that could not be described is judged as is
	}
	return key.KeyStoreID == ev.CustomKeyStoreID
}

// gone reports whether KMS said the key does not exist.
func gone(s keys.Snapshot) bool {
	for _, e := range s.Errors {
		if e.Kind == check.NotFound {
			return true
		}
	}
	return false
}

func trigger(ev *kmsevent.Event) *check.Trigger {
	if ev == nil {
		return nil
	}
	return &check.Trigger{
		EventName:                      ev.EventName,
		Relevance:                      ev.Relevance,
		Actor:                          actorName(ev.Actor),
		ActorType:                      ev.Actor.Type,
		InvokedBy:                      ev.Actor.InvokedBy,
		Failed:                         ev.Failed,
		ErrorCode:                      ev.ErrorCode,
		GrantID:                        ev.GrantID,
		BypassPolicyLockoutSafetyCheck: ev.BypassPolicyLockoutSafetyCheck,
		Policy:                         ev.Policy,
	}
}
