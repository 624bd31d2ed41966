package securityhub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/fsxkms/fsxkms/pkg/alert"
)

// Limits of one BatchImportFindings call (Security Hub API reference):
// 100 findings and 6 MB; Exporter keeps a margin under the bytes.
const (
	MaxPerCall   = 100
	maxCallBytes = 5 * 1024 * 1024
)

// attempts is how often a finding Security Hub refuses (FailedFindings) is
// sent within one Flush before Flush returns it as an error.
const attempts = 3

// maxRetained bounds the refused findings an Exporter keeps for its next
// Flush (the next invocation of a warm function).
const maxRetained = 1000

// maxSent bounds how many Ids an Exporter remembers the last UpdatedAt of.
const maxSent = 50000

// Namespace is the CloudWatch namespace of the Exporter's metrics, the
// monitor's.
const Namespace = "fsxkms"

// API is the part of the Security Hub client the Exporter calls;
// *securityhub.Client has it. BatchImportFindings is all the IAM policy
// grants.
type API interface {
	BatchImportFindings(ctx context.Context, in *securityhub.BatchImportFindingsInput, optFns ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error)
}

// Caller tells whose credentials the Exporter uses; *sts.Client has it
// (GetCallerIdentity needs no permission).
type Caller interface {
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// Exporter imports what the monitor tracks into Security Hub: Add takes a
// judged key (any number at once, concurrently), Flush imports them. It is
// the monitor's Tracker (through monitor.NewAWS).
type Exporter struct {
	// Client imports the findings.
	Client API
	// Region is the Region of the Security Hub that receives them (the
	// client's).
	Region string
	// Account and Partition are the caller's; when Account is empty the
	// first Flush asks Caller (STS GetCallerIdentity) once.
	Account, Partition string
	Caller             Caller
	// Log receives one line per Flush that sent something and one when
	// Security Hub is not enabled; slog.Default() when nil.
	Log *slog.Logger
	// Metrics receives one CloudWatch Embedded Metric Format line per Flush
	// that sent something or found Security Hub off (namespace Namespace):
	// SecurityHubImported, SecurityHubArchived, SecurityHubBatches,
	// SecurityHubFailed, SecurityHubNotEnabled. os.Stdout when nil.
	Metrics io.Writer
	// Stack and Function are the metrics' dimensions (Stack when set).
	Stack, Function string
	// Wait sleeps between attempts at refused findings; nil sleeps.
	Wait func(ctx context.Context, d time.Duration) error
	// Now is the clock of the metrics; time.Now when nil.
	Now func() time.Time

	mu       sync.Mutex
	judged   []Judged
	retained []Finding            // refused at the last Flush
	sent     map[string]time.Time // Id -> the last UpdatedAt imported (or tried)
}

// Add queues a judged key's findings for the next Flush. A key with
// nothing open and nothing closed adds nothing.
func (e *Exporter) Add(_ context.Context, j Judged) error {
	if len(j.Open) == 0 && len(j.Closed) == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.judged = append(e.judged, j)
	return nil
}

// Flush imports what Add queued, in batches of at most MaxPerCall. It
// returns an error (the invocation fails and Lambda retries it) when a
// call fails after the SDK's retries or a finding is still refused after
// attempts; the findings not imported are kept for the next Flush. When
// Security Hub is not enabled in the account and Region, Flush logs it
// once, counts it (SecurityHubNotEnabled), drops the findings and returns
// nil: fsxkms goes on alerting as before.
func (e *Exporter) Flush(ctx context.Context) error {
	e.mu.Lock()
	judged, retained := e.judged, e.retained
	e.judged, e.retained = nil, nil
	e.mu.Unlock()
	if len(judged) == 0 && len(retained) == 0 {
		return nil
	}
	p, err := e.product(ctx)
	if err != nil {
		e.retain(retained)
		e.mu.Lock()
		e.judged = append(judged, e.judged...)
		e.mu.Unlock()
		return fmt.Errorf("security hub: %w", err)
	}
	fs := e.prepare(p, judged, retained)
	batches := split(fs)
	var imported, archived, failedN int
	var errs []error
	for i, b := range batches {
		ok, refused, err := e.send(ctx, b)
		if notEnabled(err) {
			e.notEnabled(ctx, p, len(fs)-imported-archived-failedN, err)
			return nil
		}
		if err != nil {
			for _, rest := range batches[i:] {
				e.retain(rest)
			}
			failedN += countAll(batches[i:])
			errs = append(errs, err)
			break
		}
		for _, f := range ok {
			if f.RecordState == Archived {
				archived++
			} else {
				imported++
			}
		}
		if len(refused) > 0 {
			e.retainRefused(refused)
			failedN += len(refused)
			errs = append(errs, fmt.Errorf("%d finding(s) refused %d times: %s", len(refused), attempts, refusals(refused)))
		}
	}
	e.log().InfoContext(ctx, "findings imported into Security Hub", "account", p.Account, "region", p.Region,
		"active", imported, "archived", archived, "failed", failedN, "batches", len(batches))
	e.emit(map[string]float64{"SecurityHubImported": float64(imported), "SecurityHubArchived": float64(archived),
		"SecurityHubBatches": float64(len(batches)), "SecurityHubFailed": float64(failedN)})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("security hub: %w", err)
	}
	return nil
}

// product is who imports: the caller's account and partition, asked once.
func (e *Exporter) product(ctx context.Context) (Product, error) {
	e.mu.Lock()
	p := Product{Partition: e.Partition, Region: e.Region, Account: e.Account}
	e.mu.Unlock()
	if p.Partition == "" {
		p.Partition = "aws"
	}
	if p.Account != "" {
		return p, nil
	}
	if e.Caller == nil {
		return p, errors.New("no account to import as: set Account or Caller")
	}
	out, err := e.Caller.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return p, fmt.Errorf("whose credentials (sts:GetCallerIdentity): %w", err)
	}
	p.Account = aws.ToString(out.Account)
	if a, err := arn.Parse(aws.ToString(out.Arn)); err == nil && a.Partition != "" {
		p.Partition = a.Partition
	}
	e.mu.Lock()
	e.Account, e.Partition = p.Account, p.Partition
	e.mu.Unlock()
	return p, nil
}

// prepare maps the judged keys to findings, one per Id (the latest
// judgement wins; a retained finding only when nothing newer replaced it),
// each with an UpdatedAt later than the last one this Exporter sent for
// its Id: Security Hub ignores an update whose UpdatedAt is not later.
func (e *Exporter) prepare(p Product, judged []Judged, retained []Finding) []Finding {
	byID := map[string]Finding{}
	var order []string
	put := func(f Finding) {
		old, seen := byID[f.ID]
		if !seen {
			order = append(order, f.ID)
		}
		if !seen || f.UpdatedAt >= old.UpdatedAt {
			byID[f.ID] = f
		}
	}
	for _, f := range retained {
		put(f)
	}
	for _, j := range judged {
		for _, f := range Findings(p, j) {
			put(f)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sent == nil || len(e.sent) > maxSent {
		e.sent = map[string]time.Time{}
	}
	out := make([]Finding, 0, len(order))
	for _, id := range order {
		f := byID[id]
		at, _ := time.Parse(time.RFC3339Nano, f.UpdatedAt)
		if last, ok := e.sent[id]; ok && !at.After(last) {
			at = last.Add(time.Millisecond)
			f.UpdatedAt = stamp(at)
		}
		e.sent[id] = at
		out = append(out, f)
	}
	return out
}

// split cuts fs into calls of at most MaxPerCall findings and
// maxCallBytes.
func split(fs []Finding) [][]Finding {
	var out [][]Finding
	var cur []Finding
	size := 0
	for _, f := range fs {
		b, _ := json.Marshal(f)
		if len(cur) == MaxPerCall || len(cur) > 0 && size+len(b) > maxCallBytes {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, f)
		size += len(b)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func countAll(bs [][]Finding) int {
	n := 0
	for _, b := range bs {
		n += len(b)
	}
	return n
}

// refused is a finding Security Hub refused every time, with its last
// answer.
type refused struct {
	f             Finding
	code, message string
}

// send imports one batch, sending refused findings again up to attempts
// times in all. ok are those imported; bad those refused every time.
func (e *Exporter) send(ctx context.Context, batch []Finding) (ok []Finding, bad []refused, err error) {
	pending := batch
	for attempt := 1; ; attempt++ {
		in := &securityhub.BatchImportFindingsInput{}
		for _, f := range pending {
			in.Findings = append(in.Findings, f.sdk())
		}
		out, err := e.Client.BatchImportFindings(ctx, in)
		if err != nil {
			return ok, nil, fmt.Errorf("BatchImportFindings of %d finding(s): %w", len(pending), err)
		}
		why := map[string]refused{}
		for _, ff := range out.FailedFindings {
			r := refused{code: aws.ToString(ff.ErrorCode), message: aws.ToString(ff.ErrorMessage)}
			if strings.Contains(r.code, "InvalidAccess") {
				// Security Hub is off for these: as for the whole call.
				return ok, nil, &notEnabledError{msg: r.code + ": " + r.message}
			}
			why[aws.ToString(ff.Id)] = r
		}
		bad = bad[:0]
		var again []Finding
		for _, f := range pending {
			if r, no := why[f.ID]; no {
				r.f = f
				bad = append(bad, r)
				again = append(again, f)
			} else {
				ok = append(ok, f)
			}
		}
		if len(again) == 0 || attempt == attempts {
			return ok, bad, nil
		}
		e.log().WarnContext(ctx, "Security Hub refused findings: sending them again", "refused", len(again), "attempt", attempt,
			"first", clip(bad[0].code+": "+bad[0].message, 300))
		if err := e.wait(ctx, time.Duration(attempt)*250*time.Millisecond); err != nil {
			return ok, bad, err
		}
		pending = again
	}
}

// refusals says why findings were refused: the first three Ids and
// answers, then how many more.
func refusals(bad []refused) string {
	var parts []string
	for i, r := range bad {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(bad)-3))
			break
		}
		parts = append(parts, clip(fmt.Sprintf("%s: %s %s", r.f.ID, r.code, r.message), 300))
	}
	return strings.Join(parts, "; ")
}

// notEnabledError is Security Hub saying it is not enabled (subscribed) in
// the account and Region.
type notEnabledError struct{ msg string }

func (e *notEnabledError) Error() string { return e.msg }

// notEnabled reports whether err says Security Hub is not enabled:
// InvalidAccessException for the whole call, or for a finding.
func notEnabled(err error) bool {
	var ne *notEnabledError
	var api smithy.APIError
	return errors.As(err, &ne) || errors.As(err, &api) && api.ErrorCode() == "InvalidAccessException"
}

// notEnabled says once, for this Flush, that Security Hub is off in the
// account and Region, and counts it; the n findings are dropped.
func (e *Exporter) notEnabled(ctx context.Context, p Product, n int, err error) {
	e.log().WarnContext(ctx, "Security Hub is not enabled in this account and Region: fsxkms's findings are not imported "+
		"(enable Security Hub, or deploy with SecurityHub=off); alerts go out as before",
		"account", p.Account, "region", p.Region, "findings", n, "error", clip(err.Error(), 300))
	e.emit(map[string]float64{"SecurityHubNotEnabled": 1})
}

// retain keeps refused or unsent findings for the next Flush, at most
// maxRetained.
func (e *Exporter) retain(fs []Finding) {
	e.mu.Lock()
	defer e.mu.Unlock()
	room := maxRetained - len(e.retained)
	if room <= 0 {
		return
	}
	e.retained = append(e.retained, fs[:min(room, len(fs))]...)
}

func (e *Exporter) retainRefused(bad []refused) {
	fs := make([]Finding, len(bad))
	for i, r := range bad {
		fs[i] = r.f
	}
	e.retain(fs)
}

func (e *Exporter) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
}

func (e *Exporter) wait(ctx context.Context, d time.Duration) error {
	if e.Wait != nil {
		return e.Wait(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// emit writes values as one CloudWatch Embedded Metric Format line, as the
// monitor writes its own (dimensions Stack, when set, and Function).
func (e *Exporter) emit(values map[string]float64) {
	w := e.Metrics
	if w == nil {
		w = os.Stdout
	}
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	sort.Strings(names)
	type metric struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	doc := map[string]any{"Function": e.Function}
	dims := []string{"Function"}
	if e.Stack != "" {
		doc["Stack"] = e.Stack
		dims = []string{"Stack", "Function"}
	}
	defs := make([]metric, 0, len(names))
	for _, n := range names {
		defs = append(defs, metric{Name: n, Unit: "Count"})
		doc[n] = values[n]
	}
	doc["_aws"] = map[string]any{
		"Timestamp":         now().UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{"Namespace": Namespace, "Dimensions": [][]string{dims}, "Metrics": defs}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return
	}
	w.Write(append(b, '\n'))
}

// clip bounds and escapes s, an answer from Security Hub, for a log line
// or an error.
func clip(s string, n int) string { return alert.Plain(s, n) }
