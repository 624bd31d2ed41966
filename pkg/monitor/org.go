package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/fsxkms/fsxkms/internal/awsid"
)

// Target is one work item of an organization's sweep: an account and a
// Region to sweep, with the account's name when Organizations gives it.
// Its JSON is the body of the SQS message the sweep-worker function gets.
type Target struct {
	Account string `json:"account"`
	Region  string `json:"region"`
	Name    string `json:"name,omitempty"`
}

// ParseTarget reads a work item's body; a malformed one is an error (the
// message goes to the queue's dead-letter queue after its retries).
func ParseTarget(body string) (Target, error) {
	var t Target
	if err := json.Unmarshal([]byte(body), &t); err != nil {
		return Target{}, fmt.Errorf("sweep work item is not JSON: %w", err)
	}
	if !awsid.Account(t.Account) || t.Region == "" || len(t.Region) > 32 {
		return Target{}, fmt.Errorf("sweep work item %s: want an account id of 12 digits and a Region", clip(body))
	}
	return t, nil
}

// OrganizationsAPI is the Organizations call the sweep makes to list the
// organization's accounts.
type OrganizationsAPI interface {
	ListAccounts(ctx context.Context, in *organizations.ListAccountsInput, optFns ...func(*organizations.Options)) (*organizations.ListAccountsOutput, error)
}

// maxAccounts bounds the accounts an organization's sweep covers (AWS's
// default quota is 10 accounts an organization and it can be raised to
// thousands; more pages than this would be a fault).
const maxAccounts = 10000

// Targets lists the account-Region pairs an organization's sweep covers:
// the monitor's own account and the members (MEMBER_ACCOUNTS when set,
// else every ACTIVE account Organizations lists, so an account that left
// the organization stops being swept), times the Regions.
func Targets(ctx context.Context, org OrganizationsAPI, own string, members, regions []string) ([]Target, error) {
	names := map[string]string{}
	accounts := []string{own}
	if len(members) > 0 {
		for _, a := range members {
			if !awsid.Account(a) {
				return nil, fmt.Errorf("MEMBER_ACCOUNTS: %q is not an account id", a)
			}
			accounts = appendNew(accounts, a)
		}
	} else {
		if org == nil {
			return nil, errors.New("no MEMBER_ACCOUNTS and no Organizations client to list the accounts")
		}
		p := organizations.NewListAccountsPaginator(org, &organizations.ListAccountsInput{})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("list the organization's accounts (the sweep must run in the management account "+
					"or a delegated administrator, or set MEMBER_ACCOUNTS): %w", err)
			}
			for _, a := range out.Accounts {
				if a.Status != orgtypes.AccountStatusActive || !awsid.Account(aws.ToString(a.Id)) {
					continue
				}
				accounts = appendNew(accounts, aws.ToString(a.Id))
				names[aws.ToString(a.Id)] = aws.ToString(a.Name)
			}
			if len(accounts) > maxAccounts {
				return nil, fmt.Errorf("the organization lists more than %d accounts", maxAccounts)
			}
		}
	}
	slices.Sort(accounts[1:])
	var ts []Target
	for _, a := range accounts {
		for _, r := range regions {
			ts = append(ts, Target{Account: a, Region: r, Name: names[a]})
		}
	}
	return ts, nil
}

// SQSAPI is the SQS call the organization's sweep makes to enqueue its
// work items.
type SQSAPI interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Enqueue sends one message per target to queueURL, ten a call (SQS's
// batch limit); a target SQS refuses is an error naming it, after the
// others were sent.
func Enqueue(ctx context.Context, q SQSAPI, queueURL string, ts []Target) error {
	var errs []error
	for batch := range slices.Chunk(ts, 10) {
		in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL)}
		for i, t := range batch {
			b, _ := json.Marshal(t)
			in.Entries = append(in.Entries, sqstypes.SendMessageBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(b)),
			})
		}
		out, err := q.SendMessageBatch(ctx, in)
		if err != nil {
			errs = append(errs, fmt.Errorf("enqueue %d sweep work items: %w", len(batch), err))
			continue
		}
		for _, f := range out.Failed {
			i, _ := strconv.Atoi(aws.ToString(f.Id))
			if i >= 0 && i < len(batch) {
				errs = append(errs, fmt.Errorf("enqueue sweep of %s in %s: %s: %s", batch[i].Account, batch[i].Region,
					aws.ToString(f.Code), clip(aws.ToString(f.Message))))
			}
		}
	}
	return errors.Join(errs...)
}

// OrgSweep is the organization deployment's scheduled sweep: it does not
// judge keys itself but sends one work item per account and Region to the
// queue the sweep-worker function reads (SWEEP_QUEUE_URL), so that AWS
// scales the sweep out with bounded concurrency.
type OrgSweep struct {
	Own           string
	Members       []string // MEMBER_ACCOUNTS; empty: Organizations lists them
	Regions       []string
	QueueURL      string
	SQS           SQSAPI
	Organizations OrganizationsAPI
}

// EnqueueSweep sends the organization's sweep work items and returns how
// many; without OrgSweep (single deployment) it is an error. With State it
// first sums what the previous round's work items reported into one
// organization summary, sent as mode says (see OrgSummary).
func (m *Monitor) EnqueueSweep(ctx context.Context, mode SummaryMode) (int, error) {
	o := m.Org
	if o == nil || o.QueueURL == "" {
		return 0, errors.New("not the organization deployment: DEPLOYMENT=central and SWEEP_QUEUE_URL are needed")
	}
	ts, err := Targets(ctx, o.Organizations, o.Own, o.Members, o.Regions)
	if err != nil {
		return 0, err
	}
	m.storeNames(ctx, ts)
	// The summary first: if it cannot go out, the retry of this
	// invocation queues the round, not a second one.
	mem, err := m.summarizeOrg(ctx, ts, mode)
	if err != nil {
		return 0, err
	}
	err = Enqueue(ctx, o.SQS, o.QueueURL, ts)
	m.log().Info("organization sweep enqueued", "targets", len(ts), "regions", o.Regions, "error", errString(err))
	m.emit(map[string]float64{"SweepTargets": float64(len(ts))})
	if mem != nil {
		if err == nil {
			mem.At = m.now() // the round went out: reports after now are its
		}
		m.rememberOrg(ctx, *mem)
	}
	return len(ts), err
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
