package devstack_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/fsx"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/internal/devstack/fsxserver"
	"github.com/fsxkms/fsxkms/internal/devstack/kmsproxy"
)

const central, member1, member2 = "111122223333", "222233334444", "333344445555"

// orgClients are SDK clients of one identity on a multi-account stack.
type orgClients struct {
	kms *kms.Client
	fsx *fsx.Client
	sts *sts.Client
}

func clientsWith(s *devstack.Stack, creds aws.CredentialsProvider) orgClients {
	cfg := aws.Config{Region: s.Region, Credentials: creds, RetryMaxAttempts: 1}
	return orgClients{
		kms: kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(s.KMSEndpoint) }),
		fsx: fsx.NewFromConfig(cfg, func(o *fsx.Options) { o.BaseEndpoint = aws.String(s.FSxEndpoint) }),
		sts: sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(s.STSEndpoint) }),
	}
}

// assumed returns clients that act as account through its read role,
// assumed by the central account with the SDK's stscreds provider (as the
// monitor does), behind a credentials cache.
func assumed(s *devstack.Stack, account string) orgClients {
	// The central account's dummy credentials, as Env's.
	central := clientsWith(s, aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
	}))
	return clientsWith(s, aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(central.sts, s.ReadRoleARN(account))))
}

// listKeyARNs returns the ARNs of every key ListKeys shows.
func listKeyARNs(t *testing.T, c *kms.Client) []string {
	t.Helper()
	var arns []string
	p := kms.NewListKeysPaginator(c, &kms.ListKeysInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("ListKeys: %v", err)
		}
		for _, k := range page.Keys {
			arns = append(arns, aws.ToString(k.KeyArn))
		}
	}
	return arns
}

func wantAPIError(t *testing.T, what string, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), msg) {
		t.Errorf("%s: err = %v, want %s containing %q", what, err, code, msg)
	}
}

// TestMultiAccount runs a stack with a central account and two members and
// checks over the wire, with the real SDK, that STS, KMS and FSx answer
// per account.
func TestMultiAccount(t *testing.T) {
	ctx := context.Background()
	started := time.Now()
	s, err := devstack.Start(ctx, devstack.Options{MemberAccounts: []string{member1, member2}, Inventory: "fsxserver/testdata/inventory.json"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("a stack with 2 members started in %v (moto_server answered after %v)", time.Since(started).Round(time.Millisecond), s.DynamoDBReady.Round(time.Millisecond))
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	if !slices.Equal(s.Accounts, []string{central, member1, member2}) || s.ReadRoleName != "fsxkms-read" {
		t.Fatalf("Accounts %v, ReadRoleName %q; want central first, then the members, and fsxkms-read", s.Accounts, s.ReadRoleName)
	}
	if s.KMS != s.KMSFor(central) || s.FSx != s.FSxFor(central) || s.LocalKMSEndpoint != s.LocalKMSEndpointFor(central) {
		t.Error("KMS, FSx and LocalKMSEndpoint are not the central account's")
	}
	if s.KMSFor("999988887777") != nil || s.FSxFor("999988887777") != nil {
		t.Error("KMSFor or FSxFor of an account not in the stack is not nil")
	}
	centralKey := createKey(t, clientsWith(s, devstack.CredentialsFor(central)).kms)

	t.Run("GetCallerIdentity", func(t *testing.T) {
		for _, tt := range []struct {
			name    string
			c       orgClients
			account string
			arn     string
		}{
			{"member1 read role assumed with test", assumed(s, member1), member1, "arn:aws:sts::222233334444:assumed-role/fsxkms-read/"},
			{"AccessKeyFor member2", clientsWith(s, devstack.CredentialsFor(member2)), member2, "arn:aws:iam::333344445555:user/"},
			{"AccessKeyFor central", clientsWith(s, devstack.CredentialsFor(central)), central, "arn:aws:iam::111122223333:user/"},
		} {
			id, err := tt.c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil || aws.ToString(id.Account) != tt.account || !strings.HasPrefix(aws.ToString(id.Arn), tt.arn) {
				t.Errorf("%s: %v, account %s arn %s; want %s, %s...", tt.name, err, aws.ToString(id.Account), aws.ToString(id.Arn), tt.account, tt.arn)
			}
		}
	})

	t.Run("AssumeRoleAndListMemberKeys", func(t *testing.T) {
		s.STS.ResetCalls()
		direct := clientsWith(s, devstack.CredentialsFor(member1))
		key := createKey(t, direct.kms)
		if want := "arn:aws:kms:us-east-1:222233334444:key/"; !strings.HasPrefix(aws.ToString(key.Arn), want) {
			t.Errorf("a key created as %s has ARN %s, want %s...", member1, aws.ToString(key.Arn), want)
		}
		if aws.ToString(key.AWSAccountId) != member1 {
			t.Errorf("AWSAccountId = %s, want %s", aws.ToString(key.AWSAccountId), member1)
		}
		read := assumed(s, member1)
		keys := listKeyARNs(t, read.kms)
		if !slices.Contains(keys, aws.ToString(key.Arn)) || slices.Contains(keys, aws.ToString(centralKey.Arn)) {
			t.Errorf("ListKeys as %s's read role = %v, want %s and not the central key %s", member1, keys, aws.ToString(key.Arn), aws.ToString(centralKey.Arn))
		}
		for _, k := range keys {
			if !strings.Contains(k, ":"+member1+":") {
				t.Errorf("ListKeys as %s shows %s", member1, k)
			}
		}
		if slices.Contains(listKeyARNs(t, clientsWith(s, devstack.CredentialsFor(central)).kms), aws.ToString(key.Arn)) {
			t.Errorf("the central account lists %s's key", member1)
		}
		if keys := listKeyARNs(t, assumed(s, member2).kms); slices.Contains(keys, aws.ToString(key.Arn)) {
			t.Errorf("%s lists %s's key: %v", member2, member1, keys)
		}
		// A key of another account is NotFound, as a key the caller's account lacks.
		_, err := read.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: centralKey.Arn})
		wantAPIError(t, "DescribeKey of the central key as a member", err, "NotFoundException", "does not exist")
		// One AssumeRole for the many calls of one provider: credentials are reused.
		for range 3 {
			if _, err := read.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: key.KeyId}); err != nil {
				t.Fatalf("DescribeKey as %s: %v", member1, err)
			}
		}
		if n := s.STS.AssumeRoleCalls(member1); n != 1 {
			t.Errorf("AssumeRoleCalls(%s) = %d after 5 calls with one provider, want 1", member1, n)
		}
	})

	t.Run("ProxyStatePerAccount", func(t *testing.T) {
		m1 := clientsWith(s, devstack.CredentialsFor(member1))
		key := createKey(t, m1.kms)
		arn := aws.ToString(key.Arn)
		if _, err := m1.kms.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: key.KeyId, GranteePrincipal: aws.String("arn:aws:iam::222233334444:role/fsx"),
			Operations: []kmstypes.GrantOperation{kmstypes.GrantOperationDecrypt}}); err != nil {
			t.Fatalf("CreateGrant as %s: %v", member1, err)
		}
		if g := s.KMSFor(member1).Grants(arn); len(g) != 1 || g[0].IssuingAccount != "arn:aws:iam::222233334444:root" {
			t.Errorf("%s's proxy holds grants %+v, want the one just created, issued by %s", member1, g, member1)
		}
		if g := s.KMS.Grants(arn); len(g) != 0 {
			t.Errorf("the central proxy holds grants of %s's key: %+v", member1, g)
		}
		grants, err := assumed(s, member1).kms.ListGrants(ctx, &kms.ListGrantsInput{KeyId: key.Arn})
		if err != nil || len(grants.Grants) != 1 {
			t.Errorf("ListGrants as %s's read role: %v, %d grants; want 1", member1, err, len(grants.Grants))
		}

		if _, err := s.KMSFor(member1).Simulate(arn, kmsproxy.Simulation{Deleted: true}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.KMSFor(member1).ClearSimulations)
		_, err = m1.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: key.KeyId})
		wantAPIError(t, "DescribeKey of a key simulated deleted", err, "NotFoundException", arn)
		if _, err := s.KMS.Simulate(arn, kmsproxy.Simulation{Deleted: true}); err == nil {
			t.Error("the central proxy simulated a member's key")
		}

		s.KMSFor(member2).Inject("ListKeys", devstack.Fault{Type: "ThrottlingException", Message: "Rate exceeded", Times: 1})
		t.Cleanup(s.KMSFor(member2).ClearFaults)
		s.KMS.ResetCalls()
		listKeyARNs(t, clientsWith(s, devstack.CredentialsFor(central)).kms)
		listKeyARNs(t, m1.kms)
		_, err = clientsWith(s, devstack.CredentialsFor(member2)).kms.ListKeys(ctx, &kms.ListKeysInput{})
		wantAPIError(t, "ListKeys as member2 with a fault", err, "ThrottlingException", "Rate exceeded")
		if n := s.KMS.Calls()["ListKeys"]; n != 1 {
			t.Errorf("central proxy counted %d ListKeys, want 1 (its own)", n)
		}
	})

	t.Run("RemovedRoleAccessDenied", func(t *testing.T) {
		s.STS.RemoveRole(member2)
		t.Cleanup(func() { s.STS.AddRole(member2) })
		_, err := assumed(s, member2).kms.ListKeys(ctx, &kms.ListKeysInput{})
		wantAPIError(t, "ListKeys with a removed read role", err, "AccessDenied",
			"is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::333344445555:role/fsxkms-read")
		var re interface{ HTTPStatusCode() int }
		if !errors.As(err, &re) || re.HTTPStatusCode() != 403 {
			t.Errorf("err = %v, want HTTP 403", err)
		}
		if err := s.STS.AddRole(member2); err != nil {
			t.Fatal(err)
		}
		if _, err := assumed(s, member2).kms.ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
			t.Errorf("ListKeys after AddRole: %v", err)
		}
	})

	t.Run("UnknownAndExpiredCredentials", func(t *testing.T) {
		_, err := clientsWith(s, devstack.CredentialsFor("999988887777")).kms.ListKeys(ctx, &kms.ListKeysInput{})
		wantAPIError(t, "KMS with the key of an account not in the stack", err, "UnrecognizedClientException", "security token included in the request is invalid")
		_, err = clientsWith(s, devstack.CredentialsFor("999988887777")).fsx.DescribeFileSystems(ctx, &fsx.DescribeFileSystemsInput{})
		wantAPIError(t, "FSx with the key of an account not in the stack", err, "UnrecognizedClientException", "invalid")

		now := time.Now()
		s.STS.SetClock(func() time.Time { return now })
		defer s.STS.SetClock(nil)
		out, err := clientsWith(s, devstack.CredentialsFor(central)).sts.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(s.ReadRoleARN(member1)), RoleSessionName: aws.String("short")})
		if err != nil {
			t.Fatal(err)
		}
		c := out.Credentials
		session := clientsWith(s, aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: aws.ToString(c.AccessKeyId), SecretAccessKey: aws.ToString(c.SecretAccessKey), SessionToken: aws.ToString(c.SessionToken)}, nil
		}))
		if _, err := session.kms.ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
			t.Fatalf("ListKeys with fresh session credentials: %v", err)
		}
		s.STS.SetClock(func() time.Time { return aws.ToTime(c.Expiration) })
		_, err = session.kms.ListKeys(ctx, &kms.ListKeysInput{})
		wantAPIError(t, "KMS with expired session credentials", err, "ExpiredTokenException", "expired")
	})

	t.Run("FSxInventoryPerAccount", func(t *testing.T) {
		inv := fsxserver.Inventory{FileSystems: []json.RawMessage{json.RawMessage(`{"FileSystemId":"fs-0member1000000001","FileSystemType":"ONTAP","OwnerId":"222233334444","KmsKeyId":"arn:aws:kms:us-east-1:222233334444:key/1234abcd-12ab-34cd-56ef-1234567890ab"}`)}}
		if err := s.SetInventoryFor(member1, inv); err != nil {
			t.Fatal(err)
		}
		if err := s.SetInventoryFor("999988887777", inv); err == nil {
			t.Error("SetInventoryFor an account not in the stack succeeded")
		}
		ids := func(c orgClients) []string {
			t.Helper()
			out, err := c.fsx.DescribeFileSystems(ctx, &fsx.DescribeFileSystemsInput{})
			if err != nil {
				t.Fatalf("DescribeFileSystems: %v", err)
			}
			var ids []string
			for _, f := range out.FileSystems {
				ids = append(ids, aws.ToString(f.FileSystemId))
			}
			return ids
		}
		if got := ids(assumed(s, member1)); !slices.Equal(got, []string{"fs-0member1000000001"}) {
			t.Errorf("%s's file systems = %v, want its inventory's", member1, got)
		}
		if got := ids(clientsWith(s, devstack.CredentialsFor(member2))); len(got) != 0 {
			t.Errorf("%s's file systems = %v, want none", member2, got)
		}
		if got := ids(clientsWith(s, devstack.CredentialsFor(central))); len(got) == 0 || slices.Contains(got, "fs-0member1000000001") {
			t.Errorf("the central account's file systems = %v, want Options.Inventory's", got)
		}
	})

	t.Run("CentralServicesWhoeverCalls", func(t *testing.T) {
		// moto knows no member: their credentials act as the central account.
		out, err := dynamodb.NewFromConfig(aws.Config{Region: s.Region, Credentials: devstack.CredentialsFor(member1)},
			func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(s.DynamoDBEndpoint) }).ListTables(ctx, &dynamodb.ListTablesInput{})
		if err != nil || !slices.Contains(out.TableNames, s.StateTable) {
			t.Errorf("ListTables as %s: %v %v, want the state table", member1, err, out)
		}
	})
}

// TestMultiAccountStop: Stop ends every local-kms and leaves no port.
func TestMultiAccountStop(t *testing.T) {
	s, err := devstack.Start(context.Background(), devstack.Options{MemberAccounts: []string{member1, member2}})
	if err != nil {
		t.Fatal(err)
	}
	ports, pids := s.Ports(), s.Pids()
	if len(ports) != 9 || len(pids) != 5 {
		t.Errorf("Ports %v, Pids %v: want 9 ports and 5 processes (3 local-kms, goaws, moto_server)", ports, pids)
	}
	for _, a := range s.Accounts {
		if s.LocalKMSEndpointFor(a) == "" {
			t.Errorf("no local-kms for %s", a)
		}
	}
	stopLeavesNothing(t, s)
}

func TestMultiAccountOptions(t *testing.T) {
	for _, tt := range []struct {
		opts devstack.Options
		want string
	}{
		{devstack.Options{MemberAccounts: []string{"2222"}}, `member account "2222" is not a 12-digit AWS account id`},
		{devstack.Options{MemberAccounts: []string{member1, member1}}, "listed twice"},
		{devstack.Options{MemberAccounts: []string{central}}, "listed twice"},
		{devstack.Options{ReadRoleName: "no spaces"}, "is not an IAM role name"},
	} {
		wantStartError(t, tt.opts, tt.want)
	}
}
