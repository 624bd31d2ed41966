// Command invoke sends event files to the real kms-events bootstrap under
// the Lambda Runtime Interface Emulator, on the local stack seeded with the
// demo world, and prints for each what it did on the stack, what the
// function answered and the alerts it published. `make invoke` runs it; it
// never uses an AWS account.
//
// Usage:
//
//	invoke [-apply=false] [-keep] [-full|-short] EVENT.json...
//
// Before invoking, it makes on the local stack the change the event records
// (a DisableKey event disables the key, a PutKeyPolicy event puts its
// policy, a KMS CMK Deletion deletes the key, ...), so that the function,
// which re-reads the key as it is now, sees what it would see in AWS. The
// states local-kms cannot reach (a deleted key, deleted or expired imported
// material, a disconnected custom key store, a key Updating) are simulated
// by the KMS proxy (kmsproxy.Simulate). When an event's change cannot be
// made, the output says why; the function then judges the key as it is.
// -apply=false sends the events alone.
//
// Each event starts from the demo world as seeded, with no alert state, as
// if it were the first event the function sees; a restoring event
// (EnableKey, CancelKeyDeletion, ImportKeyMaterial, ConnectCustomKeyStore)
// is preceded by the breaking event it undoes, made and sent first, so that
// there is a problem to resolve. With -keep the events are made one after
// the other on the same world and alert state, as in AWS: the same event
// twice is then said once, and the output says why the second is silent.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fsxkms/fsxkms/internal/localrun"
	"github.com/fsxkms/fsxkms/internal/scenario"
	"github.com/fsxkms/fsxkms/pkg/kmsevent"
	"github.com/fsxkms/fsxkms/pkg/monitor"
)

// usage is printed by -h and on a usage error.
const usage = `usage: invoke [-apply=false] [-keep] [-full|-short] EVENT.json...

Sends each event file to the kms-events bootstrap under the Lambda emulator,
on the local stack seeded with the demo world, after making the event's
change on the stack, and prints what happened. Never uses an AWS account.

  -apply=false  send the events without making their changes
  -keep         make the events in sequence on one world and alert state
                (default: each event on the world as seeded, with no state)
  -full         print the function's answer and every alert in full
                (the default for one event)
  -short        print one line per key and the subject of each alert
                (the default for several events)
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command line's.
type options struct {
	apply, keep, full bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var opts options
	fs.BoolVar(&opts.apply, "apply", true, "")
	fs.BoolVar(&opts.keep, "keep", false, "")
	full := fs.Bool("full", false, "")
	short := fs.Bool("short", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprintf(stderr, "invoke: %v\n%s", err, usage)
		return 2
	}
	files := fs.Args()
	if len(files) == 0 || (*full && *short) {
		fmt.Fprint(stderr, usage)
		return 2
	}
	opts.full = len(files) == 1
	if *full || *short {
		opts.full = *full
	}
	events := make([][]byte, len(files))
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(stderr, "invoke:", err)
			return 2
		}
		events[i] = b
	}

	env, err := localrun.Start(ctx, localrun.Options{Log: stderr})
	if err != nil {
		fmt.Fprintln(stderr, "invoke:", err)
		return 1
	}
	defer env.Stop()
	cfg, err := config.LoadDefaultConfig(ctx) // localrun.Start pointed this process at the stack
	if err != nil {
		fmt.Fprintln(stderr, "invoke:", err)
		return 1
	}
	w := &world{env: env, db: dynamodb.NewFromConfig(cfg)}
	fmt.Fprintf(stdout, "invoke: kms-events on the local stack (demo world: %s, %s, %s), alert state in %s%s\n",
		scenario.Aliases[scenario.ProdKeyID], scenario.Aliases[scenario.BackupKeyID], scenario.Aliases[scenario.OtherKeyID],
		env.Stack.StateTable, map[bool]string{true: "; events in sequence (-keep)", false: "; each event on the world as seeded"}[opts.keep])
	rc := 0
	for i, f := range files {
		if i > 0 && !opts.keep {
			if err := w.reset(ctx); err != nil {
				fmt.Fprintln(stderr, "invoke:", err)
				return 1
			}
		}
		fmt.Fprintln(stdout)
		if !w.one(ctx, stdout, f, events[i], opts) {
			rc = 1
		}
	}
	return rc
}

// one makes, sends and reports one event file; it reports false when the
// function failed.
func (w *world) one(ctx context.Context, out io.Writer, file string, raw []byte, opts options) bool {
	evs, decodeErr := kmsevent.Decode(raw)
	fmt.Fprintf(out, "%s:", file)
	if decodeErr != nil {
		fmt.Fprintf(out, " not decoded (%s); sent as is\n", kmsevent.Clip(decodeErr.Error()))
	} else {
		fmt.Fprintln(out)
	}
	for _, ev := range evs {
		fmt.Fprintf(out, "  event: %s\n", describe(ev))
		if !opts.apply {
			fmt.Fprintln(out, "  local stack: not changed (-apply=false)")
			continue
		}
		key := keyOf(ev)
		if c, ok := changes[ev.EventName]; ok && c.before != "" && !opts.keep && !ev.Failed && key != "" {
			w.before(ctx, out, c.before, key)
		}
		fmt.Fprintf(out, "  local stack: %s\n", w.make(ctx, ev, key))
	}
	return w.send(ctx, out, raw, evs, opts.full)
}

// before makes and sends the breaking event name on key, reporting in one
// line: the problem a restoring event resolves.
func (w *world) before(ctx context.Context, out io.Writer, name, key string) {
	raw := scenario.APICall(withSeq(scenario.CallFor(name, key), 900))
	evs, err := kmsevent.Decode(raw)
	if err != nil || len(evs) != 1 {
		fmt.Fprintf(out, "  first: %s could not be built (%v)\n", name, err)
		return
	}
	fmt.Fprintf(out, "  first, so that there is a problem to resolve: %s\n", w.make(ctx, evs[0], key))
	answer, alerts, err := w.invoke(ctx, raw)
	if err != nil {
		fmt.Fprintf(out, "    kms-events failed: %s\n", kmsevent.Clip(err.Error()))
		return
	}
	for _, l := range keyLines(answer, "") {
		fmt.Fprintf(out, "    kms-events: %s\n", l)
	}
	for _, d := range alerts {
		fmt.Fprintf(out, "    alert: %s\n", d.Subject)
	}
}

func withSeq(c scenario.Call, seq int) scenario.Call {
	c.Seq = seq
	return c
}

// make makes ev's change on key and says what it did, or why it did not.
func (w *world) make(ctx context.Context, ev kmsevent.Event, key string) string {
	switch {
	case ev.Failed:
		return fmt.Sprintf("nothing to change: the call was refused (%s), so the key is as it was", ev.ErrorCode)
	case ev.Relevance == kmsevent.Ignored:
		return "nothing to change: the function ignores this event (" + ev.Reason + ")"
	}
	c, ok := changes[ev.EventName]
	if !ok {
		return "NOT REPRODUCED: invoke knows no way to make " + ev.EventName + " on the local stack; the function judges the key as it is"
	}
	if c.apply == nil {
		return "NOT REPRODUCED: " + c.why + "; the function judges the key as it is"
	}
	if key == "" {
		return "NOT REPRODUCED: the event names no key of the demo world; the function judges the keys as they are"
	}
	did, err := c.apply(ctx, w, ev, key)
	if nr, ok := errors.AsType[errNotReproduced](err); ok {
		return "NOT REPRODUCED: " + nr.Error() + "; the function judges the key as it is"
	}
	if err != nil {
		return "COULD NOT MAKE THE CHANGE: " + kmsevent.Clip(err.Error()) + "; the function judges the key as it is"
	}
	return ev.EventName + " on " + name(key) + ": " + did
}

// keyOf is the key whose change ev records: its first key, or for an event
// on a custom key store, the demo's production key, which invoke puts in
// that store.
func keyOf(ev kmsevent.Event) string {
	if len(ev.KeyARNs) > 0 {
		return ev.KeyARNs[0]
	}
	if ev.CustomKeyStoreID != "" || strings.HasSuffix(ev.EventName, "CustomKeyStore") {
		return scenario.KeyARN(scenario.ProdKeyID)
	}
	for _, a := range ev.Aliases {
		for id, alias := range scenario.Aliases {
			if strings.HasSuffix(a, alias) {
				return scenario.KeyARN(id)
			}
		}
	}
	return ""
}

// send invokes the function with raw and reports its answer and alerts; it
// reports false when the function failed.
func (w *world) send(ctx context.Context, out io.Writer, raw []byte, evs []kmsevent.Event, full bool) bool {
	logFrom := len(w.env.Lambda.Log())
	answer, alerts, err := w.invoke(ctx, raw)
	if err != nil {
		fmt.Fprintf(out, "  kms-events FAILED (Lambda would retry the event, then send it to the failure destination):\n    %s\n",
			strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "\n    "))
		if log := w.env.Lambda.Log(); len(log) > logFrom {
			fmt.Fprintf(out, "  its log:\n%s\n", log[logFrom:])
		}
		return false
	}
	if full {
		b, _ := json.Marshal(answer)
		fmt.Fprintf(out, "  kms-events answered: %s\n", b)
	}
	if len(answer.Keys) == 0 {
		why := "checked no key"
		if reasons := ignoredReasons(w.env.Lambda.Log()[logFrom:]); len(reasons) > 0 {
			why = "ignored the event: " + strings.Join(reasons, "; ")
		} else if answer.Ignored > 0 {
			why = "ignored the event"
		}
		fmt.Fprintf(out, "  kms-events: %s\n", why)
	}
	for _, l := range keyLines(answer, w.env.Stack.StateTable) {
		fmt.Fprintf(out, "  kms-events: %s\n", l)
	}
	if len(alerts) == 0 {
		fmt.Fprintln(out, "  no alert published")
	}
	for _, d := range alerts {
		if full {
			fmt.Fprintf(out, "\n  alert published to %s\n  Subject: %s\n\n%s\n", w.env.TopicARN, d.Subject, indent(strings.TrimRight(d.Email, "\n"), "    "))
		} else {
			fmt.Fprintf(out, "  alert: %s\n", d.Subject)
		}
	}
	return true
}

// invoke sends raw to the function and collects the alerts its answer
// counts (and any more that arrive right after).
func (w *world) invoke(ctx context.Context, raw []byte) (monitor.Result, []localrun.Delivery, error) {
	b, err := w.env.Invoke(ctx, raw)
	if err != nil {
		return monitor.Result{}, nil, err
	}
	var answer monitor.Result
	if err := json.Unmarshal(b, &answer); err != nil {
		return monitor.Result{}, nil, fmt.Errorf("the function's answer is not its Result (%v): %s", err, kmsevent.ClipBytes(b))
	}
	var alerts []localrun.Delivery
	for range answer.Alerts {
		d, ok := w.env.Next(10 * time.Second)
		if !ok {
			break
		}
		alerts = append(alerts, d)
	}
	// goaws delivers before Publish returns: anything more is here now.
	return answer, append(alerts, w.env.Drain(200*time.Millisecond)...), nil
}

// keyLines says, one line per key of answer, what the function made of
// it, and why it said nothing when it did not. table is the alert state
// table, empty when the lines need not explain silence.
func keyLines(answer monitor.Result, table string) []string {
	var lines []string
	for _, k := range answer.Keys {
		l := name(k.KeyARN) + ": " + k.Status
		if len(k.Codes) > 0 {
			l += " " + strings.Join(k.Codes, " ")
		}
		switch {
		case k.Status == monitor.StatusOutOfScope:
			l += ": not in the event's custom key store, not judged for it"
		case k.Status == monitor.StatusReadFailed:
			l += ": the key could not be read (Lambda would retry the event)"
		case len(k.Sent) > 0:
			l += ": alert sent (" + strings.Join(k.Sent, ", ") + ")"
		case k.Busy > 0:
			l += fmt.Sprintf(": silent: another invocation was alerting on %d of its findings at the same moment, and said them", k.Busy)
		case len(k.Codes) > 0 && table != "":
			l += ": silent: already said; the alert state (STATE_TABLE " + table + ") holds these findings as notified, " +
				"so the function says them again only when they change or REMIND_AFTER (24h) has passed"
		case len(k.Codes) > 0:
			l += ": no alert"
		default:
			l += ": nothing to say"
		}
		lines = append(lines, l)
	}
	return lines
}

// ignoredReasons returns the reasons the function logged for ignoring an
// event, from its log lines.
func ignoredReasons(log string) []string {
	var out []string
	for line := range strings.SplitSeq(log, "\n") {
		i := strings.IndexByte(line, '{')
		if i < 0 || !strings.Contains(line, `"event ignored"`) {
			continue
		}
		var l struct{ Msg, Reason string }
		if json.Unmarshal([]byte(line[i:]), &l) == nil && l.Msg == "event ignored" && l.Reason != "" && !slices.Contains(out, l.Reason) {
			out = append(out, l.Reason)
		}
	}
	return out
}

// describe says what ev is in one line.
func describe(ev kmsevent.Event) string {
	var s strings.Builder
	s.WriteString(fmt.Sprintf("%s (%s, %s)", ev.EventName, ev.Relevance, ev.Kind))
	if ev.Failed {
		s.WriteString(", refused with " + ev.ErrorCode)
	}
	if ev.Actor.ARN != "" {
		s.WriteString(" by " + ev.Actor.ARN)
	}
	for _, k := range ev.KeyARNs {
		s.WriteString(" on " + name(k))
	}
	if ev.CustomKeyStoreID != "" {
		s.WriteString(" on custom key store " + ev.CustomKeyStoreID)
	}
	if len(ev.KeyARNs) == 0 && len(ev.Aliases) > 0 {
		s.WriteString(" on " + strings.Join(ev.Aliases, ", "))
	}
	return s.String()
}

// name is a demo key's alias, or the ARN.
func name(arn string) string {
	if a, ok := scenario.Aliases[arn[strings.LastIndex(arn, "/")+1:]]; ok {
		return a
	}
	return arn
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
