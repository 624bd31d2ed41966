package devstack_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/fsx"
	fsxtypes "github.com/aws/aws-sdk-go-v2/service/fsx/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/internal/devstack/fsxserver"
)

const policy = `{"Version":"2012-10-17","Statement":[{"Sid":"root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`

func createKey(t *testing.T, c *kms.Client) *kmstypes.KeyMetadata {
	t.Helper()
	out, err := c.CreateKey(context.Background(), &kms.CreateKeyInput{Description: aws.String(t.Name())})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return out.KeyMetadata
}

func TestKMSKeyPolicy(t *testing.T) {
	ctx := context.Background()
	c := kms.NewFromConfig(awsConfig(t))
	key := createKey(t, c)
	if !strings.HasPrefix(*key.Arn, "arn:aws:kms:us-east-1:111122223333:key/") {
		t.Errorf("key ARN = %s, want one in us-east-1, account 111122223333", *key.Arn)
	}
	if _, err := c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: key.KeyId, PolicyName: aws.String("default"), Policy: aws.String(policy)}); err != nil {
		t.Fatalf("PutKeyPolicy: %v", err)
	}
	got, err := c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: key.KeyId, PolicyName: aws.String("default")})
	if err != nil {
		t.Fatalf("GetKeyPolicy: %v", err)
	}
	if aws.ToString(got.Policy) != policy {
		t.Errorf("GetKeyPolicy = %s, want %s", aws.ToString(got.Policy), policy)
	}
	names, err := c.ListKeyPolicies(ctx, &kms.ListKeyPoliciesInput{KeyId: key.Arn})
	if err != nil {
		t.Fatalf("ListKeyPolicies: %v", err)
	}
	if !slices.Equal(names.PolicyNames, []string{"default"}) || names.Truncated {
		t.Errorf("ListKeyPolicies = %v truncated %v, want [default] false", names.PolicyNames, names.Truncated)
	}
}

func TestKMSGrantRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := kms.NewFromConfig(awsConfig(t))
	key := createKey(t, c)
	fsxRole := "arn:aws:iam::111122223333:role/aws-service-role/fsx.amazonaws.com/AWSServiceRoleForAmazonFSx"

	var ids []string
	var tokens []string
	for i := range 5 {
		out, err := c.CreateGrant(ctx, &kms.CreateGrantInput{
			KeyId:             key.KeyId,
			GranteePrincipal:  aws.String(fsxRole),
			RetiringPrincipal: aws.String("arn:aws:iam::111122223333:root"),
			Operations:        []kmstypes.GrantOperation{kmstypes.GrantOperationDecrypt, kmstypes.GrantOperationGenerateDataKeyWithoutPlaintext},
			Constraints:       &kmstypes.GrantConstraints{EncryptionContextSubset: map[string]string{"aws:fsx:fs-id": "fs-0a1b2c3d4e5f60001"}},
			Name:              aws.String("fsx-" + string(rune('a'+i))),
		})
		if err != nil {
			t.Fatalf("CreateGrant %d: %v", i, err)
		}
		if aws.ToString(out.GrantId) == "" || aws.ToString(out.GrantToken) == "" {
			t.Fatalf("CreateGrant %d: empty GrantId or GrantToken: %+v", i, out)
		}
		ids = append(ids, *out.GrantId)
		tokens = append(tokens, *out.GrantToken)
	}

	list := func() []kmstypes.GrantListEntry {
		t.Helper()
		var all []kmstypes.GrantListEntry
		pages := kms.NewListGrantsPaginator(c, &kms.ListGrantsInput{KeyId: key.Arn, Limit: aws.Int32(2)})
		n := 0
		for pages.HasMorePages() {
			p, err := pages.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListGrants: %v", err)
			}
			n++
			all = append(all, p.Grants...)
		}
		if want := (len(all) + 1) / 2; len(all) > 0 && n != want {
			t.Errorf("ListGrants took %d pages for %d grants with Limit 2, want %d", n, len(all), want)
		}
		return all
	}
	grants := list()
	if len(grants) != 5 {
		t.Fatalf("ListGrants returned %d grants, want 5", len(grants))
	}
	g := grants[0]
	if *g.GrantId != ids[0] || *g.KeyId != *key.Arn || *g.GranteePrincipal != fsxRole ||
		*g.IssuingAccount != "arn:aws:iam::111122223333:root" || *g.Name != "fsx-a" ||
		g.CreationDate == nil || time.Since(*g.CreationDate) > time.Hour ||
		!slices.Equal(g.Operations, []kmstypes.GrantOperation{"Decrypt", "GenerateDataKeyWithoutPlaintext"}) ||
		g.Constraints == nil || g.Constraints.EncryptionContextSubset["aws:fsx:fs-id"] != "fs-0a1b2c3d4e5f60001" {
		t.Errorf("first grant = %+v", g)
	}

	retirable, err := c.ListRetirableGrants(ctx, &kms.ListRetirableGrantsInput{RetiringPrincipal: aws.String("arn:aws:iam::111122223333:root")})
	if err != nil {
		t.Fatalf("ListRetirableGrants: %v", err)
	}
	if n := countKey(retirable.Grants, *key.Arn); n != 5 {
		t.Errorf("ListRetirableGrants has %d grants of the key, want 5", n)
	}

	if _, err := c.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: key.KeyId, GrantId: &ids[0]}); err != nil {
		t.Fatalf("RevokeGrant: %v", err)
	}
	if _, err := c.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: &tokens[1]}); err != nil {
		t.Fatalf("RetireGrant by token: %v", err)
	}
	if _, err := c.RetireGrant(ctx, &kms.RetireGrantInput{KeyId: key.Arn, GrantId: &ids[2]}); err != nil {
		t.Fatalf("RetireGrant by key and grant ID: %v", err)
	}
	grants = list()
	var left []string
	for _, g := range grants {
		left = append(left, *g.GrantId)
	}
	if !slices.Equal(left, ids[3:]) {
		t.Errorf("grants left = %v, want %v", left, ids[3:])
	}

	// A revoked grant is gone: revoking it again is NotFoundException.
	_, err = c.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: key.KeyId, GrantId: &ids[0]})
	var nf *kmstypes.NotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("RevokeGrant of a revoked grant: err = %v, want *types.NotFoundException", err)
	}
	// An unknown key is NotFoundException, as local-kms answers DescribeKey.
	_, err = c.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String("arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000")})
	if !errors.As(err, &nf) {
		t.Errorf("ListGrants of an unknown key: err = %v, want *types.NotFoundException", err)
	}
	_, err = c.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: &tokens[0]})
	if _, ok := errors.AsType[*kmstypes.InvalidGrantTokenException](err); !ok {
		t.Errorf("RetireGrant with the token of a revoked grant: err = %v, want *types.InvalidGrantTokenException", err)
	}
}

func countKey(gs []kmstypes.GrantListEntry, arn string) int {
	n := 0
	for _, g := range gs {
		if aws.ToString(g.KeyId) == arn {
			n++
		}
	}
	return n
}

func TestKMSGrantOnDisabledKey(t *testing.T) {
	ctx := context.Background()
	c := kms.NewFromConfig(awsConfig(t))
	key := createKey(t, c)
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: key.KeyId}); err != nil {
		t.Fatalf("DisableKey: %v", err)
	}
	_, err := c.CreateGrant(ctx, &kms.CreateGrantInput{
		KeyId: key.KeyId, GranteePrincipal: aws.String("arn:aws:iam::111122223333:root"),
		Operations: []kmstypes.GrantOperation{kmstypes.GrantOperationDecrypt},
	})
	if _, ok := errors.AsType[*kmstypes.DisabledException](err); !ok {
		t.Errorf("CreateGrant on a disabled key: err = %v, want *types.DisabledException", err)
	}
}

func TestKMSFaultInjection(t *testing.T) {
	ctx := context.Background()
	s := devstack.Current()
	c := kms.NewFromConfig(awsConfig(t), func(o *kms.Options) { o.RetryMaxAttempts = 1 })
	key := createKey(t, c)
	s.KMS.ResetCalls()
	s.KMS.Inject("DescribeKey", devstack.Fault{Status: 400, Type: "KMSInvalidStateException", Message: "injected", Times: 1})
	defer s.KMS.ClearFaults()

	_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: key.KeyId})
	var invalid *kmstypes.KMSInvalidStateException
	if !errors.As(err, &invalid) || invalid.ErrorMessage() != "injected" {
		t.Fatalf("DescribeKey with an injected fault: err = %v, want *types.KMSInvalidStateException(injected)", err)
	}
	if _, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: key.KeyId}); err != nil {
		t.Fatalf("DescribeKey after a one-time fault: %v", err)
	}
	if n := s.KMS.Calls()["DescribeKey"]; n != 2 {
		t.Errorf("Calls()[DescribeKey] = %d, want 2", n)
	}

	// Errors KMS does not model, such as AccessDeniedException, reach the
	// caller as a smithy.APIError with the injected code.
	s.KMS.Inject("ListGrants", devstack.Fault{Status: 400, Type: "AccessDeniedException", Message: "no grants for you"})
	_, err = c.ListGrants(ctx, &kms.ListGrantsInput{KeyId: key.KeyId})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDeniedException" || apiErr.ErrorMessage() != "no grants for you" {
		t.Errorf("ListGrants with injected AccessDenied: err = %v, want APIError AccessDeniedException", err)
	}
}

func TestSNSPublishDelivered(t *testing.T) {
	ctx := context.Background()
	got := make(chan map[string]any, 10)
	sub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err == nil {
			got <- m
		}
	}))
	defer sub.Close()

	c := sns.NewFromConfig(awsConfig(t))
	topic, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("devstack-test")})
	if err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	if _, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String(sub.URL + "/sns")}); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	if _, err := c.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Subject: aws.String("key disabled"), Message: aws.String(`{"key":"k1"}`)}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-got:
			if m["Type"] != "Notification" {
				continue // the SubscriptionConfirmation
			}
			if m["Message"] != `{"key":"k1"}` || m["Subject"] != "key disabled" || m["TopicArn"] != *topic.TopicArn {
				t.Errorf("notification = %v", m)
			}
			return
		case <-timeout:
			t.Fatal("no notification within 10s")
		}
	}
}

func TestSNSDefaultTopic(t *testing.T) {
	c := sns.NewFromConfig(awsConfig(t))
	out, err := c.ListTopics(context.Background(), &sns.ListTopicsInput{})
	if err != nil {
		t.Fatalf("ListTopics: %v", err)
	}
	for _, tp := range out.Topics {
		if aws.ToString(tp.TopicArn) == "arn:aws:sns:us-east-1:111122223333:kms-alerts" {
			return
		}
	}
	t.Errorf("ListTopics = %v, want the topic kms-alerts from Options.Topics", out.Topics)
}

func TestFSxPaging(t *testing.T) {
	ctx := context.Background()
	c := fsx.NewFromConfig(awsConfig(t))
	var ids []string
	var types []fsxtypes.FileSystemType
	pages := fsx.NewDescribeFileSystemsPaginator(c, &fsx.DescribeFileSystemsInput{MaxResults: aws.Int32(2)})
	n := 0
	for pages.HasMorePages() {
		p, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatalf("DescribeFileSystems: %v", err)
		}
		n++
		if len(p.FileSystems) > 2 {
			t.Errorf("page %d has %d file systems, MaxResults 2", n, len(p.FileSystems))
		}
		for _, fs := range p.FileSystems {
			ids = append(ids, *fs.FileSystemId)
			types = append(types, fs.FileSystemType)
		}
	}
	if n != 3 || len(ids) != 5 {
		t.Errorf("got %d file systems in %d pages, want 5 in 3", len(ids), n)
	}
	for _, want := range []fsxtypes.FileSystemType{"WINDOWS", "LUSTRE", "ONTAP", "OPENZFS"} {
		if !slices.Contains(types, want) {
			t.Errorf("no %s file system in %v", want, types)
		}
	}

	one, err := c.DescribeFileSystems(ctx, &fsx.DescribeFileSystemsInput{FileSystemIds: []string{"fs-0a1b2c3d4e5f60001"}})
	if err != nil {
		t.Fatalf("DescribeFileSystems by ID: %v", err)
	}
	fs := one.FileSystems[0]
	if aws.ToString(fs.KmsKeyId) != "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab" ||
		fs.Lifecycle != fsxtypes.FileSystemLifecycleAvailable || aws.ToString(fs.OwnerId) != "111122223333" ||
		!fs.CreationTime.Equal(time.Unix(1717430400, 123e6)) || aws.ToInt32(fs.StorageCapacity) != 32 ||
		fs.WindowsConfiguration == nil || fs.WindowsConfiguration.DeploymentType != fsxtypes.WindowsDeploymentTypeMultiAz1 {
		t.Errorf("file system = %+v", fs)
	}

	_, err = c.DescribeFileSystems(ctx, &fsx.DescribeFileSystemsInput{FileSystemIds: []string{"fs-0000000000000dead"}})
	if _, ok := errors.AsType[*fsxtypes.FileSystemNotFound](err); !ok {
		t.Errorf("DescribeFileSystems of an unknown ID: err = %v, want *types.FileSystemNotFound", err)
	}
}

func TestFSxBackups(t *testing.T) {
	ctx := context.Background()
	c := fsx.NewFromConfig(awsConfig(t))
	out, err := c.DescribeBackups(ctx, &fsx.DescribeBackupsInput{})
	if err != nil {
		t.Fatalf("DescribeBackups: %v", err)
	}
	if len(out.Backups) != 4 {
		t.Fatalf("DescribeBackups returned %d backups, want 4", len(out.Backups))
	}
	b := out.Backups[2]
	if *b.BackupId != "backup-0a1b2c3d4e5f60003" || b.Type != fsxtypes.BackupTypeAwsBackup ||
		b.Lifecycle != fsxtypes.BackupLifecycleAvailable || b.FileSystem == nil ||
		*b.FileSystem.FileSystemId != "fs-0a1b2c3d4e5f60005" || b.Volume == nil || *b.Volume.VolumeId != "fsvol-0a1b2c3d4e5f60005" {
		t.Errorf("backup = %+v", b)
	}
	filtered, err := c.DescribeBackups(ctx, &fsx.DescribeBackupsInput{Filters: []fsxtypes.Filter{{Name: fsxtypes.FilterNameFileSystemId, Values: []string{"fs-0a1b2c3d4e5f60002"}}}})
	if err != nil {
		t.Fatalf("DescribeBackups with a filter: %v", err)
	}
	if len(filtered.Backups) != 1 || *filtered.Backups[0].BackupId != "backup-0a1b2c3d4e5f60002" {
		t.Errorf("DescribeBackups of fs-0a1b2c3d4e5f60002 = %d backups", len(filtered.Backups))
	}
}

func TestFSxFaultInjection(t *testing.T) {
	s := devstack.Current()
	s.FSx.Inject("DescribeFileSystems", fsxserver.Fault{Status: 500, Type: "InternalServerError", Message: "injected"})
	defer s.FSx.ClearFaults()
	c := fsx.NewFromConfig(awsConfig(t), func(o *fsx.Options) { o.RetryMaxAttempts = 1 })
	_, err := c.DescribeFileSystems(context.Background(), &fsx.DescribeFileSystemsInput{})
	var ise *fsxtypes.InternalServerError
	if !errors.As(err, &ise) || ise.ErrorMessage() != "injected" {
		t.Errorf("DescribeFileSystems with an injected fault: err = %v, want *types.InternalServerError(injected)", err)
	}
}
