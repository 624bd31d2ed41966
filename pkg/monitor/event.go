package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/fsxkms/fsxkms/pkg/check"
	"github.com/fsxkms/fsxkms/pkg/inventory"
	"github.com/fsxkms/fsxkms/pkg/keys"
	"github.com/fsxkms/fsxkms/pkg/kmsevent"
)

// Result tells what HandleEvent did with one invocation.
type Result struct {
	Events  int `json:"events"`
	Ignored int `json:"ignored"`
	Checked int `json:"checked"`
	Alerts  int `json:"alerts"`
	// FSxGrantOps counts FSx's own RetireGrant and RevokeGrant calls:
	// routine, logged and counted, never alerted on their own.
	FSxGrantOps int `json:"fsxGrantOps,omitempty"`
	// Unkeyed counts breaking events that name no usable key (a malformed
	// or missing key identifier): ignored, but logged at WARN and counted.
	Unkeyed int         `json:"unkeyed,omitempty"`
	Keys    []KeyResult `json:"keys,omitempty"`
}

// HandleEvent judges one raw event (an EventBridge event, a CloudTrail record
// or a CloudTrail log file). It returns an error whenever an event was left
// unjudged (undecodable input, a failed AWS read, a failed publish) so that
// Lambda retries it and, in the end, sends it to the failure destination.
func (m *Monitor) HandleEvent(ctx context.Context, raw []byte) (Result, error) {
	start := time.Now()
	var res Result
	evs, decodeErr := kmsevent.Decode(raw)
	if decodeErr != nil {
		m.log().Error("event not decoded", "error", decodeErr.Error(), "bytes", len(raw), "decoded", len(evs),
			"input", kmsevent.ClipBytes(raw))
	}
	res.Events = len(evs)
	var errs []error
	if decodeErr != nil {
		errs = append(errs, fmt.Errorf("decode event: %w", decodeErr))
	}
	for _, ev := range evs {
		if err := m.handle(ctx, ev, &res); err != nil {
			errs = append(errs, err)
		}
	}
	if m.Tracker != nil {
		if err := m.Tracker.Flush(ctx); err != nil {
			errs = append(errs, fmt.Errorf("track findings: %w", err))
		}
	}
	err := errors.Join(errs...)
	m.logInvocation(evs, res, err, time.Since(start))
	m.emit(map[string]float64{
		"Events":             float64(res.Events),
		"EventsIgnored":      float64(res.Ignored),
		"KeysChecked":        float64(res.Checked),
		"AlertsSent":         float64(res.Alerts),
		"FSxGrantOperations": float64(res.FSxGrantOps),
		"BreakingWithoutKey": float64(res.Unkeyed),
		"Noncompliant":       float64(countStatus(res.Keys, check.Noncompliant)),
		"Errors":             float64(len(errs)),
		"DurationMs":         float64(time.Since(start).Microseconds()) / 1000,
	})
	return res, err
}

// Invoke implements aws-lambda-go's lambda.Handler: payload is the event's
// raw bytes, so that fsxkms itself decodes, logs and rejects every input,
// JSON or not; the answer is the JSON of HandleEvent's Result.
func (m *Monitor) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	res, err := m.HandleEvent(ctx, payload)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	return b, nil
}

// logInvocation writes the one line that sums up an invocation: the events,
// the keys with their verdicts, the AWS calls made and the duration.
func (m *Monitor) logInvocation(evs []kmsevent.Event, res Result, err error, took time.Duration) {
	ids := make([]string, 0, len(evs))
	for _, ev := range evs {
		ids = append(ids, clip(ev.EventID))
	}
	keys := make([]string, 0, len(res.Keys))
	decisions := make([]string, 0, len(res.Keys))
	calls := 0
	for _, k := range res.Keys {
		keys = append(keys, k.KeyARN)
		decisions = append(decisions, k.Status)
		calls += len(k.Calls)
	}
	attrs := []any{"eventIds", ids, "keys", keys, "decisions", decisions, "ignored", res.Ignored,
		"alerts", res.Alerts, "kmsCalls", calls, "durationMs", float64(took.Microseconds()) / 1000}
	if err != nil {
		m.log().Error("invocation failed: Lambda will retry the event", append(attrs, "error", err.Error())...)
		return
	}
	m.log().Info("invocation done", attrs...)
}

func (m *Monitor) handle(ctx context.Context, ev kmsevent.Event, res *Result) error {
	log := m.log().With("eventId", clip(ev.EventID), "eventName", clip(ev.EventName), "relevance", string(ev.Relevance))
	if ev.Relevance == kmsevent.Ignored && ev.Unkeyed == kmsevent.Breaking {
		res.Ignored++
		res.Unkeyed++
		log.Warn("breaking event names no usable key: not judged", "reason", ev.Reason, "warnings", len(ev.Warnings))
		return nil
	}
	if ev.Relevance == kmsevent.Ignored {
		res.Ignored++
		log.Info("event ignored", "reason", ev.Reason, "keys", ev.KeyARNs)
		return nil
	}
	if trigger(&ev).FSxOwnGrantOperation() {
		// FSx retiring or revoking its own grant, as when a file system, a
		// backup or a cache is deleted: routine. The key is still checked
		// (it may be broken for other reasons), but this raises no alert.
		res.FSxGrantOps++
		log.Info("FSx's own grant operation: routine, no alert for it", "grantId", clip(ev.GrantID),
			"actorType", clip(ev.Actor.Type), "invokedBy", clip(ev.Actor.InvokedBy), "keys", ev.KeyARNs)
	}
	r, err := m.reader(ctx, ev.Account, ev.Region)
	if err != nil {
		if re, ok := errors.AsType[*RoleError](err); ok && re.Refused() {
			return m.roleRefused(ctx, ev, re, res)
		}
		log.Error("account not readable", "account", clip(ev.Account), "region", clip(ev.Region), "error", clip(err.Error()))
		return fmt.Errorf("event %s (%s): read account %s: %w", ev.EventID, ev.EventName, ev.Account, err)
	}
	inv, fresh, err := r.Inventory.Get(ctx)
	if err != nil {
		log.Error("FSx inventory unavailable", "error", err.Error())
		return fmt.Errorf("event %s (%s): FSx inventory: %w", ev.EventID, ev.EventName, err)
	}
	// Only keys and aliases in the event's own account and Region are
	// read: a refused call's keyId is whatever the caller typed.
	sc := scopeTargets(ev)
	for _, r := range sc.refused {
		log.Warn("key or alias named by the event is outside its account and Region: not read",
			"target", clip(r.target), "why", r.why, "account", clip(ev.Account), "region", clip(ev.Region))
	}
	named := len(ev.KeyARNs) > 0 || len(ev.Aliases) > 0
	targets := sc.keyARNs
	if len(targets) == 0 && len(sc.aliases) > 0 {
		// A refused call made with an alias names no key ARN: resolve it.
		for _, a := range sc.aliases {
			arn, err := keys.Resolve(ctx, r.KMS, a)
			if err != nil && !keys.Refused(err) {
				// Throttled or unreachable: the event is unjudged, retry it.
				return fmt.Errorf("event %s (%s): resolve %s: %w", ev.EventID, ev.EventName, a, err)
			}
			if err != nil {
				log.Warn("alias not resolved", "alias", clip(a), "error", clip(err.Error()))
				continue
			}
			if why := outOfScope(arn, ev.Account, ev.Region); why != "" {
				log.Warn("alias resolved to a key outside the event's account and Region: not read",
					"alias", clip(a), "key", clip(arn), "why", why)
				continue
			}
			// Two names of one key (an alias and its key ARN, two
			// aliases) are one target: checked and alerted once.
			targets = appendNew(targets, arn)
		}
		if len(targets) == 0 {
			res.Ignored++
			log.Info("event ignored", "reason", "its aliases name no key fsxkms can see (NotFound or AccessDenied)", "aliases", clipAll(ev.Aliases))
			return nil
		}
	}
	if named && len(targets) == 0 {
		res.Ignored++
		log.Warn("event ignored", "reason", "every key and alias it names is outside its own account and Region",
			"keys", clipAll(ev.KeyARNs), "aliases", clipAll(ev.Aliases))
		return nil
	}
	if m.State == nil && ev.EventName == "KMS CMK Deletion" && m.recentDeletion(ev, false) {
		// Without state, a warm function remembers the deletions it has
		// alerted on: KMS may send several such events within seconds.
		res.Ignored++
		log.Info("event ignored", "reason", "duplicate KMS CMK Deletion event (KMS may send several within seconds)", "keys", ev.KeyARNs)
		return nil
	}
	if len(targets) == 0 {
		// e.g. DisconnectCustomKeyStore names a key store, not a key: every
		// key FSx uses may be affected, so check them all.
		targets = inv.Keys()
		log.Info("event names no key: checking every key FSx uses", "reason", ev.Reason, "keys", len(targets))
	}
	// A cached listing is confirmed by one more listing, shared by the
	// event's keys, before a grant removal is called CRITICAL, and before a
	// key is concluded not to be FSx's.
	reread := sync.OnceValues(func() (*inventory.Inventory, error) { return r.Inventory.Refresh(ctx) })
	used, missing := splitUsed(inv, targets)
	if len(missing) > 0 && !fresh {
		// The cached listing may predate the file system, backup or cache
		// now on the key: list FSx once more before ignoring the event.
		again, err := reread()
		if err != nil {
			log.Error("FSx inventory could not be listed again to confirm a key is not FSx's", "error", clip(err.Error()))
			return fmt.Errorf("event %s (%s): FSx inventory (listed again for %s): %w", ev.EventID, ev.EventName, missing[0], err)
		}
		log.Info("FSx listed again: the cached listing does not name the event's key", "keys", missing,
			"resourcesCached", inv.Resources, "resourcesNow", again.Resources)
		inv, fresh = again, true
		used, missing = splitUsed(inv, targets)
	}
	for _, arn := range missing {
		res.Ignored++
		log.Info("event ignored", "reason", "key not used by FSx (not in the inventory of "+
			fmt.Sprint(inv.Resources)+" FSx resources)", "key", arn, "inventoryFresh", fresh)
	}
	// Most events name one key; an event that names none (a custom key
	// store) may mean every key FSx uses: read them a few at a time.
	results := make([]KeyResult, len(used))
	errs := make([]error, len(used))
	fanOut(len(used), m.Concurrency, func(i int) {
		arn := used[i]
		use := keyUse{resources: inv.ByKey[arn], listed: inv.Listed[arn], fresh: fresh, reread: reread}
		kr := m.judge(ctx, r, arn, use, &ev, 0)
		if kr.Err == nil {
			kr.PublishErr = m.deliver(ctx, &kr, &ev)
		}
		switch {
		case kr.Err != nil:
			errs[i] = fmt.Errorf("event %s (%s) on %s: %w", ev.EventID, ev.EventName, arn, kr.Err)
		case kr.PublishErr != nil:
			errs[i] = fmt.Errorf("event %s (%s) on %s: %w", ev.EventID, ev.EventName, arn, kr.PublishErr)
		}
		results[i] = kr
	})
	for _, kr := range results {
		res.Checked++
		res.Alerts += len(kr.Sent)
		res.Keys = append(res.Keys, kr)
	}
	err = errors.Join(errs...)
	if m.State == nil && ev.EventName == "KMS CMK Deletion" && err == nil {
		m.recentDeletion(ev, true) // remembered only once it was alerted on
	}
	return err
}

// roleRefused reports an event from a member account whose read role STS
// refuses: MONITOR_ACCESS_DENIED naming the role, for each key the event
// names (or for the role itself when it names none), never a silent skip.
func (m *Monitor) roleRefused(ctx context.Context, ev kmsevent.Event, re *RoleError, res *Result) error {
	targets := scopeTargets(ev).keyARNs
	if len(targets) == 0 {
		targets = []string{re.Role}
	}
	var errs []error
	for _, arn := range targets {
		kr := m.unreadable(arn, nil, &ev, re)
		if err := m.deliver(ctx, &kr, &ev); err != nil {
			kr.PublishErr = err
			errs = append(errs, fmt.Errorf("event %s (%s) on %s: %w", ev.EventID, ev.EventName, arn, err))
		}
		res.Checked++
		res.Alerts += len(kr.Sent)
		res.Keys = append(res.Keys, kr)
	}
	return errors.Join(errs...)
}

// splitUsed splits targets into the keys inv names and the others.
func splitUsed(inv *inventory.Inventory, targets []string) (used, missing []string) {
	for _, arn := range targets {
		if _, ok := inv.ByKey[arn]; ok {
			used = append(used, arn)
		} else {
			missing = append(missing, arn)
		}
	}
	return used, missing
}

// clipAll clips each value of vs for a log line, at most 10 of them.
func clipAll(vs []string) []string {
	out := make([]string, 0, min(len(vs), 10))
	for i, v := range vs {
		if i == 10 {
			out = append(out, fmt.Sprintf("and %d more", len(vs)-10))
			break
		}
		out = append(out, clip(v))
	}
	return out
}

// dedupWindow is how long a warm function without State remembers a KMS
// CMK Deletion event.
const dedupWindow = 10 * time.Minute

// recentDeletion reports whether the same native deletion event for the
// same keys was alerted on within dedupWindow; with remember, it records
// this one (after its alert went out, so that a failed publish is retried).
func (m *Monitor) recentDeletion(ev kmsevent.Event, remember bool) bool {
	k := ev.EventName + "|" + strings.Join(ev.KeyARNs, ",")
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, t := range m.deletions {
		if now.Sub(t) > dedupWindow {
			delete(m.deletions, key)
		}
	}
	if remember {
		if m.deletions == nil {
			m.deletions = map[string]time.Time{}
		}
		m.deletions[k] = now
		return false
	}
	t, ok := m.deletions[k]
	return ok && now.Sub(t) <= dedupWindow
}

func countStatus(ks []KeyResult, status check.Status) int {
	n := 0
	for _, k := range ks {
		if k.Status == string(status) {
			n++
		}
	}
	return n
}

// criticalGrantRemoval reports whether rep calls a grant removal CRITICAL:
// no FSx grant left on a key FSx uses.
func criticalGrantRemoval(rep check.Report) bool {
	for _, f := range rep.Findings {
		if f.Code == check.CodeGrantRevoked && f.Severity == check.Critical {
			return true
		}
	}
	return false
}

// confirmGrantRemoval judges in again on a fresh FSx listing: the cached one
// may still name resources FSx has deleted since (and whose grants it
// retired). Only the event path reads a cached listing (a sweep lists FSx
// afresh), so only it confirms. If FSx cannot be listed, the cached verdict
// stands: a false alarm costs less than a missed break.
func (m *Monitor) confirmGrantRemoval(log *slog.Logger, arn string, in check.Input, rep check.Report,
	reread func() (*inventory.Inventory, error)) (check.Report, []check.Resource) {
	inv, err := reread()
	if err != nil {
		log.Warn("grant removal judged on the cached FSx listing: it could not be confirmed", "error", clip(err.Error()))
		return rep, in.Resources
	}
	before := len(in.Resources)
	in.Resources, in.KeyListed = inv.ByKey[arn], inv.Listed[arn]
	rep = check.Check(in)
	log.Info("FSx listed again to confirm a grant removal", "resourcesCached", before, "resourcesNow", len(in.Resources),
		"listed", in.KeyListed, "severity", string(rep.Severity))
	return rep, in.Resources
}
