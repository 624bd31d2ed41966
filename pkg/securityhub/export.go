package securityhub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/fsxkms/fsxkms/internal/emf"
	"github.com/fsxkms/fsxkms/pkg/alert"
)

// maxSent bounds how many Ids an Exporter remembers the last UpdatedAt of.
const maxSent = 50000

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
	// that sent something or found Security Hub off (namespace fsxkms, as the monitor's):
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
	e.SetCaller(out)
	e.mu.Lock()
	defer e.mu.Unlock()
	p.Account, p.Partition = e.Account, e.Partition
	return p, nil
}

// SetCaller sets Account and Partition from an STS GetCallerIdentity
// answer about the exporter's credentials that the caller already has, so
// that Flush need not ask Caller.
func (e *Exporter) SetCaller(id *sts.GetCallerIdentityOutput) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.Account, e.Partition = aws.ToString(id.Account), "aws"
	if a, err := arn.Parse(aws.ToString(id.Arn)); err == nil && a.Partition != "" {
		e.Partition = a.Partition
	}
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

func (e *Exporter) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
}

// emit writes values as one CloudWatch Embedded Metric Format line, as the
// monitor writes its own (dimensions Stack, when set, and Function). A
// line that cannot be written is dropped: the findings matter, not it.
func (e *Exporter) emit(values map[string]float64) {
	w := e.Metrics
	if w == nil {
		w = os.Stdout
	}
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	_ = emf.Write(w, now(), e.Stack, e.Function, values)
}

// clip bounds and escapes s, an answer from Security Hub, for a log line
// or an error.
func clip(s string, n int) string { return alert.Plain(s, n) }
