package securityhub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/smithy-go"

	"github.com/fsxkms/fsxkms/internal/retry"
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

func (e *Exporter) wait(ctx context.Context, d time.Duration) error {
	if e.Wait != nil {
		return e.Wait(ctx, d)
	}
	return retry.Sleep(ctx, d)
}
