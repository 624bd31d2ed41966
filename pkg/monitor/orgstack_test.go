package monitor_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/internal/scenario"
	"github.com/fsxkms/fsxkms/pkg/alert"
	"github.com/fsxkms/fsxkms/pkg/monitor"
	"github.com/fsxkms/fsxkms/pkg/state"
)

// The tests of this file run the organization deployment (DEPLOYMENT=central)
// on the multi-account local stack: the central account is the stack's own,
// memberA and memberB have their read role, and each account has its own KMS
// and FSx, chosen by the credentials a request is signed with.

const (
	memberA = "222233334444"
	memberB = "333344445555"
)

// memberKey creates a key in account, as that account, with the demo's
// FSx-style policy for the account, and returns its ARN.
func memberKey(t *testing.T, account string) (string, *kms.Client) {
	t.Helper()
	client := kms.NewFromConfig(awsConfig(t), func(o *kms.Options) { o.Credentials = devstack.CredentialsFor(account) })
	arn, _ := createKey(t, client, strings.ReplaceAll(scenario.Policy(false), scenario.Account, account), t.Name())
	if !strings.Contains(arn, ":"+account+":") {
		t.Fatalf("key %s was not made in account %s", arn, account)
	}
	return arn, client
}

// memberInventory gives account one ONTAP file system on keyARN, until
// the test ends.
func memberInventory(t *testing.T, account, keyARN string) {
	t.Helper()
	doc := fmt.Sprintf(`{"FileSystems":[{"OwnerId":%q,"CreationTime":1717430400,"FileSystemId":"fs-0a1b2c3d4e5f6a001",`+
		`"FileSystemType":"ONTAP","Lifecycle":"AVAILABLE","StorageCapacity":1024,"KmsKeyId":%q,`+
		`"ResourceARN":"arn:aws:fsx:us-east-1:%s:file-system/fs-0a1b2c3d4e5f6a001"}],"Backups":[]}`, account, keyARN, account)
	setInventoryFor(t, account, []byte(doc))
	t.Cleanup(func() { setInventoryFor(t, account, []byte(`{"FileSystems":[],"Backups":[]}`)) })
}

// centralMonitor is the organization deployment's monitor, with its own
// state table and the settings in env besides.
func centralMonitor(t *testing.T, env map[string]string) (*monitor.Monitor, *bytes.Buffer) {
	t.Helper()
	all := map[string]string{"DEPLOYMENT": "central", "MEMBER_ACCOUNTS": memberA + "," + memberB}
	maps.Copy(all, env)
	return stateMonitor(t, stateTable(t), &clock{now: time.Now()}, all)
}

// TestOrgMemberEvent: an event from a member account is judged with the
// member's read role and its own KMS and FSx, the alert names the member
// account, and a second event reuses the assumed credentials.
func TestOrgMemberEvent(t *testing.T) {
	world(t)
	st := devstack.Current()
	key, client := memberKey(t, memberA)
	memberInventory(t, memberA, key)
	disable(t, client, key)
	calls := st.STS.AssumeRoleCalls(memberA)
	m, out := centralMonitor(t, nil)
	ev := func(seq int) []byte {
		c := scenario.CallFor("DisableKey", key)
		c.Seq = seq
		return scenario.APICall(c)
	}
	handle(t, m, ev(1))
	as := wantAlerts(t, out, "member event", "NEW KEY_DISABLED")
	if as[0].Account != memberA || as[0].Key.ARN != key || len(as[0].Resources) != 1 || as[0].Resources[0].ID != "fs-0a1b2c3d4e5f6a001" {
		t.Errorf("alert account %s key %s resources %+v; want the member's", as[0].Account, as[0].Key.ARN, as[0].Resources)
	}
	handle(t, m, ev(2))
	wantAlerts(t, out, "second member event")
	if n := st.STS.AssumeRoleCalls(memberA) - calls; n != 1 {
		t.Errorf("%d AssumeRole calls for two events of one account, want 1 (credentials reused)", n)
	}
}

// TestOrgMissingReadRole: a member whose read role is missing is
// MONITOR_ACCESS_DENIED naming the role, on the event path and in the
// organization's sweep; never a silent skip.
func TestOrgMissingReadRole(t *testing.T) {
	world(t)
	st := devstack.Current()
	key, _ := memberKey(t, memberB)
	st.STS.RemoveRole(memberB)
	t.Cleanup(func() { st.STS.AddRole(memberB) })
	m, out := centralMonitor(t, nil)
	handle(t, m, scenario.APICall(scenario.CallFor("DisableKey", key)))
	as := wantAlerts(t, out, "event", "NEW MONITOR_ACCESS_DENIED")
	role := st.ReadRoleARN(memberB)
	if !strings.Contains(as[0].Findings[0].Message, role) || as[0].Account != memberB {
		t.Errorf("finding %q (account %s), want it to name %s", as[0].Findings[0].Message, as[0].Account, role)
	}
	s, _, err := m.SweepAccount(context.Background(), monitor.Target{Account: memberB, Region: "us-east-1"}, monitor.SweepOptions{Summary: monitor.SummaryNever})
	if err != nil || s.Unreadable != 1 {
		t.Fatalf("sweep of %s: %+v, %v; want it unreadable and no error", memberB, s, err)
	}
	as = wantAlerts(t, out, "sweep", "NEW MONITOR_ACCESS_DENIED")
	if as[0].Key.ARN != role {
		t.Errorf("sweep alert about %s, want the role %s", as[0].Key.ARN, role)
	}
}

// TestOrgCrossAccountKey: member A's file system uses a key of member B;
// sweeping A reads the key with B's read role and evaluates its policy for
// A as the caller's account: B's policy lets only B use it via FSx, so the
// break is caught.
func TestOrgCrossAccountKey(t *testing.T) {
	world(t)
	st := devstack.Current()
	key, _ := memberKey(t, memberB) // its policy allows account B only
	memberInventory(t, memberA, key)
	callsB := st.STS.AssumeRoleCalls(memberB)
	m, out := centralMonitor(t, nil)
	s, rs, err := m.SweepAccount(context.Background(), monitor.Target{Account: memberA, Region: "us-east-1", Name: "storage-prod"},
		monitor.SweepOptions{Summary: monitor.SummaryNever})
	if err != nil || s.KeysChecked != 1 || len(rs) != 1 || rs[0].KeyARN != key {
		t.Fatalf("sweep of %s: %+v %v, %v; want B's key checked", memberA, s, rs, err)
	}
	if st.STS.AssumeRoleCalls(memberB) == callsB {
		t.Error("B's key was not read with B's read role")
	}
	as := wantAlerts(t, out, "sweep", "NEW REQUIRED_PERMISSION_DENIED")
	if as[0].AccountName != "storage-prod" || !strings.Contains(as[0].Findings[0].Message, memberA) {
		t.Errorf("alert %q (account name %q): want it to name %s as the caller and the account's name", as[0].Findings[0].Message, as[0].AccountName, memberA)
	}
}

// TestOrgSecurityHub: with SECURITY_HUB=on, a member's finding is imported
// into the member's own Security Hub, with its read role (Security Hub takes
// a finding only from the account it is about), not into the central one.
func TestOrgSecurityHub(t *testing.T) {
	world(t)
	st := devstack.Current()
	central, member := st.SecurityHub, st.SecurityHubFor(memberA)
	central.Reset()
	member.Reset()
	key, client := memberKey(t, memberA)
	memberInventory(t, memberA, key)
	disable(t, client, key)
	st.STS.ResetCalls()
	m, out := centralMonitor(t, map[string]string{"SECURITY_HUB": "on"})
	if _, ok := m.Tracker.(*monitor.OrgTracker); !ok {
		t.Fatalf("Tracker %T, want the organization's", m.Tracker)
	}
	c := scenario.CallFor("DisableKey", key)
	handle(t, m, scenario.APICall(c))
	wantAlerts(t, out, "member event", "NEW KEY_DISABLED")
	// NewAWS asks STS whose account this is once; the exporters know it.
	if n := st.STS.Calls()["GetCallerIdentity"]; n != 1 {
		t.Errorf("%d GetCallerIdentity calls, want 1 (the monitor's own)", n)
	}
	fs := member.Findings()
	if len(fs) != 1 || !strings.Contains(string(fs[0]), `"AwsAccountId":"`+memberA+`"`) {
		t.Errorf("member's Security Hub holds %d findings: %s; want the one about its key", len(fs), fs)
	}
	if n := len(central.Findings()); n != 0 {
		t.Errorf("the central Security Hub got %d findings about a member's key", n)
	}
}

// TestOrgSummary: each round of the organization's sweep sums what the
// work items of the round before reported into one summary: none on the
// first round, which cannot tell fresh reports from old; then one naming
// the account/Region pairs not swept since (memberB's work item never ran);
// in auto mode, nothing while the sums stay the same.
func TestOrgSummary(t *testing.T) {
	world(t)
	ctx := context.Background()
	// The sweep queue is moto's (the stack's SNS and SQS, goaws, serve
	// the alert topic's subscriptions).
	t.Setenv("AWS_ENDPOINT_URL_SQS", devstack.Current().DynamoDBEndpoint)
	q := sqs.NewFromConfig(awsConfig(t))
	name := fmt.Sprintf("org-sweep-%d", time.Now().UnixNano())
	queue, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: queue.QueueUrl})
	clk := &clock{now: time.Now()}
	m, out := stateMonitor(t, stateTable(t), clk, map[string]string{"DEPLOYMENT": "central",
		"MEMBER_ACCOUNTS": memberA + "," + memberB, "SWEEP_QUEUE_URL": aws.ToString(queue.QueueUrl)})
	round := func(step string, want ...string) []alert.Alert {
		t.Helper()
		clk.Add(time.Hour)
		if n, err := m.EnqueueSweep(ctx, monitor.SummaryAuto); n != 3 || err != nil {
			t.Fatalf("%s: EnqueueSweep = %d, %v; want 3 work items", step, n, err)
		}
		return wantAlerts(t, out, step, want...)
	}
	work := func() { // the work items of the central account and memberA; memberB's never runs
		t.Helper()
		clk.Add(time.Minute)
		for _, a := range []string{devstack.Current().Account, memberA} {
			if _, _, err := m.SweepAccount(ctx, monitor.Target{Account: a, Region: "us-east-1"}, monitor.SweepOptions{Summary: monitor.SummaryNever}); err != nil {
				t.Fatalf("SweepAccount %s: %v", a, err)
			}
		}
		alerts(t, out) // the keys' own alerts are other tests' business
	}
	round("first round")
	work()
	as := round("second round", "- SWEEP_SUMMARY")
	// The schedule delivers the event twice: the repeat says nothing and
	// leaves the round's time, so the next round still counts the work.
	clk.Add(-time.Hour + time.Second)
	round("the second round again, a second later")
	if title := as[0].Title; !strings.Contains(title, "3 account/Region pairs") || !strings.Contains(title, "1 not swept") {
		t.Errorf("title %q, want 3 account/Region pairs and 1 not swept", title)
	}
	if msg := as[0].Findings[0].Message; !strings.Contains(msg, "1 of them were not swept since the previous round") {
		t.Errorf("message %q does not name the pair not swept", msg)
	}
	work()
	round("third round, the same sums")
	as = round("fourth round, no work item ran", "- SWEEP_SUMMARY")
	if title := as[0].Title; !strings.Contains(title, "3 not swept") {
		t.Errorf("title %q, want 3 not swept", title)
	}
}

// TestOrgAccountNames: the organization's sweep keeps the names
// Organizations lists (moto's Organizations here) in the state table, and
// an event's alert from a member account names the account as the sweep's
// alerts do.
func TestOrgAccountNames(t *testing.T) {
	world(t)
	ctx := context.Background()
	moto := devstack.Current().DynamoDBEndpoint
	t.Setenv("AWS_ENDPOINT_URL_ORGANIZATIONS", moto)
	t.Setenv("AWS_ENDPOINT_URL_SQS", moto)
	orgs := organizations.NewFromConfig(awsConfig(t))
	if _, err := orgs.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll}); err != nil {
		if _, ok := errors.AsType[*orgtypes.AlreadyInOrganizationException](err); !ok {
			t.Fatal(err)
		}
	}
	name := fmt.Sprintf("prod-payments-%d", time.Now().UnixNano())
	created, err := orgs.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String(name), Email: aws.String(name + "@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(created.CreateAccountStatus.AccountId)
	q := sqs.NewFromConfig(awsConfig(t))
	queue, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("org-names-%d", time.Now().UnixNano()))})
	if err != nil {
		t.Fatal(err)
	}
	defer q.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: queue.QueueUrl})
	table := stateTable(t)
	m, out := stateMonitor(t, table, &clock{now: time.Now()}, map[string]string{"DEPLOYMENT": "central",
		"SWEEP_QUEUE_URL": aws.ToString(queue.QueueUrl)})
	if _, err := m.EnqueueSweep(ctx, monitor.SummaryNever); err != nil {
		t.Fatalf("EnqueueSweep: %v", err)
	}
	tbl := &state.Table{Client: dynamodb.NewFromConfig(awsConfig(t)), Name: table}
	if got, ok, err := tbl.AccountName(ctx, id); got != name || !ok || err != nil {
		t.Fatalf("stored name of %s = %q, %v, %v; want %q", id, got, ok, err, name)
	}

	// memberA (which has a read role) named as the sweep would have.
	if err := tbl.PutAccountNames(ctx, map[string]string{memberA: "member-a"}); err != nil {
		t.Fatal(err)
	}
	key, client := memberKey(t, memberA)
	memberInventory(t, memberA, key)
	disable(t, client, key)
	handle(t, m, scenario.APICall(scenario.CallFor("DisableKey", key)))
	as := wantAlerts(t, out, "member event", "NEW KEY_DISABLED")
	if as[0].Account != memberA || as[0].AccountName != "member-a" {
		t.Errorf("alert about account %s named %q, want %s named member-a", as[0].Account, as[0].AccountName, memberA)
	}
}
