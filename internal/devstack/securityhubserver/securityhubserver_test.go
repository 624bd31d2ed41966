package securityhubserver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/fsxkms/fsxkms/internal/devstack/securityhubserver"
)

const account, region = "111122223333", "us-east-1"

// client is the real SDK client of a fresh server.
func client(t *testing.T) (*securityhub.Client, *securityhubserver.Server) {
	t.Helper()
	s := securityhubserver.New(account, region)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	c := securityhub.New(securityhub.Options{
		Region:       region,
		BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
		}),
		RetryMaxAttempts: 1,
	})
	return c, s
}

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// finding is a valid finding with the given Id, updated at.
func finding(id string, at time.Time, record types.RecordState, compliance types.ComplianceStatus) types.AwsSecurityFinding {
	return types.AwsSecurityFinding{
		SchemaVersion: aws.String("2018-10-08"),
		Id:            aws.String(id),
		ProductArn:    aws.String("arn:aws:securityhub:us-east-1:111122223333:product/111122223333/default"),
		GeneratorId:   aws.String("fsxkms/KEY_DISABLED"),
		AwsAccountId:  aws.String(account),
		Types:         []string{"Software and Configuration Checks/AWS Security Best Practices/FSx KMS key state"},
		CreatedAt:     aws.String(t0.Format(time.RFC3339Nano)),
		UpdatedAt:     aws.String(at.Format("2006-01-02T15:04:05.000Z07:00")),
		Severity:      &types.Severity{Label: types.SeverityLabelCritical},
		Title:         aws.String("title"),
		Description:   aws.String("description"),
		Resources:     []types.Resource{{Type: aws.String("AwsKmsKey"), Id: aws.String("arn:aws:kms:us-east-1:111122223333:key/k")}},
		Compliance:    &types.Compliance{Status: compliance},
		RecordState:   record,
	}
}

func importAll(t *testing.T, c *securityhub.Client, fs ...types.AwsSecurityFinding) *securityhub.BatchImportFindingsOutput {
	t.Helper()
	out, err := c.BatchImportFindings(context.Background(), &securityhub.BatchImportFindingsInput{Findings: fs})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func get(t *testing.T, c *securityhub.Client, id string) types.AwsSecurityFinding {
	t.Helper()
	out, err := c.GetFindings(context.Background(), &securityhub.GetFindingsInput{Filters: &types.AwsSecurityFindingFilters{
		Id: []types.StringFilter{{Value: aws.String(id), Comparison: types.StringFilterComparisonEquals}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Findings) != 1 {
		t.Fatalf("GetFindings Id=%s: %d findings, want 1", id, len(out.Findings))
	}
	return out.Findings[0]
}

// TestUpdatedAtOrder: an update applies only with a later UpdatedAt; an
// older or equal one is accepted and ignored, as Security Hub does.
func TestUpdatedAtOrder(t *testing.T) {
	c, s := client(t)
	importAll(t, c, finding("a", t0, types.RecordStateActive, types.ComplianceStatusFailed))
	out := importAll(t, c, finding("a", t0, types.RecordStateArchived, types.ComplianceStatusPassed))
	if aws.ToInt32(out.SuccessCount) != 1 || s.Ignored() != 1 {
		t.Errorf("equal UpdatedAt: success %d, ignored %d; want accepted and ignored", aws.ToInt32(out.SuccessCount), s.Ignored())
	}
	if f := get(t, c, "a"); f.RecordState != types.RecordStateActive {
		t.Errorf("after an equal UpdatedAt: RecordState %s, want ACTIVE", f.RecordState)
	}
	importAll(t, c, finding("a", t0.Add(time.Millisecond), types.RecordStateArchived, types.ComplianceStatusPassed))
	f := get(t, c, "a")
	if f.RecordState != types.RecordStateArchived || f.Compliance.Status != types.ComplianceStatusPassed || f.Workflow.Status != types.WorkflowStatusNew {
		t.Errorf("after a later UpdatedAt: %s %s %s, want ARCHIVED PASSED (Workflow NEW)", f.RecordState, f.Compliance.Status, f.Workflow.Status)
	}
	importAll(t, c, finding("a", t0.Add(-time.Hour), types.RecordStateActive, types.ComplianceStatusFailed))
	if f := get(t, c, "a"); f.RecordState != types.RecordStateArchived || s.Ignored() != 2 {
		t.Errorf("after an older UpdatedAt: %s, ignored %d; want ARCHIVED, 2", f.RecordState, s.Ignored())
	}
}

// TestLimits: 101 findings fail the whole call; a finding without a
// required attribute, with another account or a long title fails alone.
func TestLimits(t *testing.T) {
	c, s := client(t)
	var many []types.AwsSecurityFinding
	for i := range 101 {
		many = append(many, finding(fmt.Sprint(i), t0, types.RecordStateActive, types.ComplianceStatusFailed))
	}
	_, err := c.BatchImportFindings(context.Background(), &securityhub.BatchImportFindingsInput{Findings: many})
	if _, ok := errors.AsType[*types.InvalidInputException](err); !ok {
		t.Fatalf("101 findings: err %v, want InvalidInputException", err)
	}
	noTitle := finding("t", t0, types.RecordStateActive, types.ComplianceStatusFailed)
	noTitle.Title = aws.String("") // the SDK itself refuses a nil one
	foreign := finding("f", t0, types.RecordStateActive, types.ComplianceStatusFailed)
	foreign.AwsAccountId = aws.String("444455556666")
	long := finding("l", t0, types.RecordStateActive, types.ComplianceStatusFailed)
	long.Title = aws.String(strings.Repeat("x", 257))
	out := importAll(t, c, noTitle, foreign, long, finding("ok", t0, types.RecordStateActive, types.ComplianceStatusFailed))
	if aws.ToInt32(out.FailedCount) != 3 || aws.ToInt32(out.SuccessCount) != 1 {
		t.Fatalf("failed %d, success %d: %+v", aws.ToInt32(out.FailedCount), aws.ToInt32(out.SuccessCount), out.FailedFindings)
	}
	for i, want := range []string{"Title", "AwsAccountId", "256"} {
		if msg := aws.ToString(out.FailedFindings[i].ErrorMessage); !strings.Contains(msg, want) {
			t.Errorf("FailedFindings[%d]: %q, want it to name %s", i, msg, want)
		}
	}
	if got := s.Batches(); len(got) != 1 || got[0] != 4 {
		t.Errorf("batches %v, want [4] (the refused call of 101 is not one)", got)
	}
}

// TestNotSubscribed: with Security Hub off every call fails with
// InvalidAccessException; FailFindings fails single findings.
func TestNotSubscribed(t *testing.T) {
	c, s := client(t)
	s.SetEnabled(false)
	_, err := c.BatchImportFindings(context.Background(), &securityhub.BatchImportFindingsInput{
		Findings: []types.AwsSecurityFinding{finding("a", t0, types.RecordStateActive, types.ComplianceStatusFailed)}})
	if _, ok := errors.AsType[*types.InvalidAccessException](err); !ok || !strings.Contains(err.Error(), "not subscribed") {
		t.Fatalf("err %v, want InvalidAccessException, not subscribed", err)
	}
	s.SetEnabled(true)
	s.FailFindings(1, "InternalFailure")
	out := importAll(t, c, finding("a", t0, types.RecordStateActive, types.ComplianceStatusFailed), finding("b", t0, types.RecordStateActive, types.ComplianceStatusFailed))
	if aws.ToInt32(out.FailedCount) != 1 || aws.ToString(out.FailedFindings[0].ErrorCode) != "InternalFailure" || aws.ToString(out.FailedFindings[0].Id) != "a" {
		t.Errorf("FailFindings(1): %+v", out.FailedFindings)
	}
}

// TestGetFindingsPaging: RecordState filter and NextToken paging.
func TestGetFindingsPaging(t *testing.T) {
	c, _ := client(t)
	var fs []types.AwsSecurityFinding
	for i := range 30 {
		rs := types.RecordStateActive
		if i%3 == 0 {
			rs = types.RecordStateArchived
		}
		fs = append(fs, finding(fmt.Sprint(i), t0, rs, types.ComplianceStatusFailed))
	}
	importAll(t, c, fs...)
	p := securityhub.NewGetFindingsPaginator(c, &securityhub.GetFindingsInput{MaxResults: aws.Int32(7), Filters: &types.AwsSecurityFindingFilters{
		RecordState: []types.StringFilter{{Value: aws.String("ACTIVE"), Comparison: types.StringFilterComparisonEquals}}}})
	n, pages := 0, 0
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.Findings)
		pages++
	}
	if n != 20 || pages != 3 {
		t.Errorf("%d ACTIVE findings in %d pages, want 20 in 3", n, pages)
	}
}
