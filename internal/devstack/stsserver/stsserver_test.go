package stsserver_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/fsxkms/fsxkms/internal/devstack/stsserver"
)

const central, member, other = "111122223333", "222233334444", "333344445555"

func newServer(t *testing.T) (*stsserver.Server, string) {
	t.Helper()
	s, err := stsserver.New(stsserver.Config{Central: central, Members: []string{member, other}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return s, hs.URL
}

// client is an SDK STS client signing with akid.
func client(url, akid string) *sts.Client {
	return sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: akid, SecretAccessKey: "any"}, nil
		})})
}

func identity(t *testing.T, c *sts.Client) *sts.GetCallerIdentityOutput {
	t.Helper()
	out, err := c.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	return out
}

func apiError(t *testing.T, err error, code string, status int, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), msg) {
		t.Fatalf("err = %v, want %s containing %q", err, code, msg)
	}
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Errorf("err = %v, want HTTP %d", err, status)
	}
}

func TestGetCallerIdentity(t *testing.T) {
	_, url := newServer(t)
	for akid, want := range map[string]string{"test": central, "AKIAIOSFODNN7EXAMPLE": central,
		stsserver.AccessKeyFor(central): central, stsserver.AccessKeyFor(member): member, stsserver.AccessKeyFor(other): other} {
		id := identity(t, client(url, akid))
		if aws.ToString(id.Account) != want || aws.ToString(id.Arn) != "arn:aws:iam::"+want+":user/devstack" {
			t.Errorf("%s: Account %s Arn %s, want account %s", akid, aws.ToString(id.Account), aws.ToString(id.Arn), want)
		}
	}
	_, err := client(url, stsserver.AccessKeyFor("999988887777")).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	apiError(t, err, "InvalidClientTokenId", 403, "security token included in the request is invalid")
	_, err = client(url, "ASIA222233334444ABCDEFGH").GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	apiError(t, err, "InvalidClientTokenId", 403, "invalid")
}

func TestAssumeRole(t *testing.T) {
	s, url := newServer(t)
	ctx := context.Background()
	role := s.RoleARN(member)
	if role != "arn:aws:iam::222233334444:role/fsxkms-read" {
		t.Fatalf("RoleARN = %s", role)
	}
	before := time.Now()
	out, err := client(url, "test").AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("fsxkms"), DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	c := out.Credentials
	if !regexp.MustCompile(`^ASIA222233334444[A-Z2-7]{8}$`).MatchString(aws.ToString(c.AccessKeyId)) || aws.ToString(c.SecretAccessKey) == "" || aws.ToString(c.SessionToken) == "" {
		t.Errorf("credentials %+v: want an ASIA key id encoding %s, a secret and a token", c, member)
	}
	if exp := aws.ToTime(c.Expiration); exp.Before(before.Add(899*time.Second)) || exp.After(time.Now().Add(901*time.Second)) {
		t.Errorf("Expiration %v, want 900 s from now", exp)
	}
	if got := aws.ToString(out.AssumedRoleUser.Arn); got != "arn:aws:sts::222233334444:assumed-role/fsxkms-read/fsxkms" {
		t.Errorf("AssumedRoleUser.Arn = %s", got)
	}
	if !strings.HasSuffix(aws.ToString(out.AssumedRoleUser.AssumedRoleId), ":fsxkms") {
		t.Errorf("AssumedRoleId = %s, want one ending in :fsxkms", aws.ToString(out.AssumedRoleUser.AssumedRoleId))
	}
	id := identity(t, client(url, aws.ToString(c.AccessKeyId)))
	if aws.ToString(id.Account) != member || aws.ToString(id.Arn) != aws.ToString(out.AssumedRoleUser.Arn) {
		t.Errorf("GetCallerIdentity with the session: %s %s, want %s and the assumed-role ARN", aws.ToString(id.Account), aws.ToString(id.Arn), member)
	}
	if n := s.AssumeRoleCalls(member); n != 1 {
		t.Errorf("AssumeRoleCalls = %d, want 1", n)
	}

	// Refusals: a role that does not exist, a removed role, a member caller.
	for _, tt := range []struct {
		name, akid, role string
		remove           bool
	}{
		{"other role name", "test", "arn:aws:iam::222233334444:role/admin", false},
		{"account not in the stack", "test", "arn:aws:iam::999988887777:role/fsxkms-read", false},
		{"member caller", stsserver.AccessKeyFor(other), role, false},
		{"removed role", "test", role, true},
	} {
		if tt.remove {
			s.RemoveRole(member)
		}
		_, err := client(url, tt.akid).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(tt.role), RoleSessionName: aws.String("fsxkms")})
		caller := "arn:aws:iam::111122223333:user/devstack"
		if tt.akid != "test" {
			caller = "arn:aws:iam::333344445555:user/devstack"
		}
		apiError(t, err, "AccessDenied", 403, "User: "+caller+" is not authorized to perform: sts:AssumeRole on resource: "+tt.role)
	}
	if n := s.AssumeRoleCalls(member); n != 3 {
		t.Errorf("AssumeRoleCalls = %d, want 3 (one granted, two refused)", n)
	}
	// Credentials issued before the role was removed stay valid.
	identity(t, client(url, aws.ToString(c.AccessKeyId)))
	if err := s.AddRole(member); err != nil {
		t.Fatal(err)
	}
	if _, err := client(url, "test").AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("again")}); err != nil {
		t.Errorf("AssumeRole after AddRole: %v", err)
	}
	if err := s.AddRole("999988887777"); err == nil {
		t.Error("AddRole of an account not in the stack succeeded")
	}
}

func TestAssumeRoleValidation(t *testing.T) {
	s, url := newServer(t)
	c := client(url, "test")
	for _, tt := range []struct {
		in   sts.AssumeRoleInput
		want string
	}{
		{sts.AssumeRoleInput{RoleArn: aws.String(s.RoleARN(member)), RoleSessionName: aws.String("a b")}, "'roleSessionName'"},
		{sts.AssumeRoleInput{RoleArn: aws.String(s.RoleARN(member)), RoleSessionName: aws.String("x1"), DurationSeconds: aws.Int32(60)}, "greater than or equal to 900"},
		{sts.AssumeRoleInput{RoleArn: aws.String(s.RoleARN(member)), RoleSessionName: aws.String("x1"), DurationSeconds: aws.Int32(7200)}, "MaxSessionDuration"},
		{sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:s3:::bucket-name-long"), RoleSessionName: aws.String("x1")}, "is invalid"},
	} {
		_, err := c.AssumeRole(context.Background(), &tt.in)
		apiError(t, err, "ValidationError", 400, tt.want)
	}
	if n := s.AssumeRoleCalls(member); n != 0 {
		t.Errorf("AssumeRoleCalls = %d after invalid requests only, want 0", n)
	}
}

// TestStscreds: the SDK's AssumeRole provider gets credentials once and
// reuses them until they expire; expired ones are refused by Lookup.
func TestStscreds(t *testing.T) {
	s, url := newServer(t)
	ctx := context.Background()
	cache := aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(client(url, "test"), s.RoleARN(other)))
	var first aws.Credentials
	for i := range 3 {
		cr, err := cache.Retrieve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = cr
		} else if cr.AccessKeyID != first.AccessKeyID {
			t.Errorf("retrieve %d: key %s, want the cached %s", i, cr.AccessKeyID, first.AccessKeyID)
		}
	}
	if n := s.AssumeRoleCalls(other); n != 1 {
		t.Errorf("AssumeRoleCalls = %d, want 1", n)
	}
	if id, err := s.Lookup(first.AccessKeyID); err != nil || id.Account != other {
		t.Errorf("Lookup = %+v, %v; want account %s", id, err, other)
	}

	now := time.Now()
	s.SetClock(func() time.Time { return now })
	out, err := client(url, "test").AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(s.RoleARN(other)), RoleSessionName: aws.String("short")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(aws.ToString(out.Credentials.AccessKeyId)); err != nil {
		t.Errorf("Lookup of fresh credentials: %v", err)
	}
	s.SetClock(func() time.Time { return aws.ToTime(out.Credentials.Expiration) })
	if _, err := s.Lookup(aws.ToString(out.Credentials.AccessKeyId)); !errors.Is(err, stsserver.ErrExpiredToken) {
		t.Errorf("Lookup of expired credentials: %v, want ErrExpiredToken", err)
	}
	_, err = client(url, aws.ToString(out.Credentials.AccessKeyId)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	apiError(t, err, "ExpiredToken", 400, "expired")
}

func TestWire(t *testing.T) {
	_, url := newServer(t)
	for _, tt := range []struct {
		body, auth string
		status     int
		want       string
	}{
		{"Action=GetCallerIdentity&Version=2011-06-15", "", 403, "<Code>MissingAuthenticationToken</Code>"},
		{"Action=GetSessionToken&Version=2011-06-15", "test", 400, "<Code>InvalidAction</Code>"},
		{"Action=GetCallerIdentity&Version=2010-01-01", "test", 400, "<Code>InvalidAction</Code>"},
		{"Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::222233334444:role/fsxkms-read", "test", 400, "Value null at &#39;roleSessionName&#39;"},
		{"Action=GetCallerIdentity&Version=2011-06-15", "test", 200, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::111122223333:user/devstack</Arn>`},
	} {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(tt.body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if tt.auth != "" {
			req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+tt.auth+"/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.want) {
			t.Errorf("%s: %d %s, want %d with %s", tt.body, resp.StatusCode, b, tt.status, tt.want)
		}
	}
}

func TestNew(t *testing.T) {
	for _, cfg := range []stsserver.Config{
		{Central: central, Members: []string{"12345"}},
		{Central: central, Members: []string{central}},
		{Central: central, Members: []string{member, member}},
		{Central: central, ReadRoleName: "a b"},
		{},
	} {
		if _, err := stsserver.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func TestAccessKeyOf(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIA222233334444TEST/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc")
	if got := stsserver.AccessKeyOf(r); got != "AKIA222233334444TEST" {
		t.Errorf("AccessKeyOf = %q", got)
	}
	r = httptest.NewRequest(http.MethodGet, "/?X-Amz-Credential=ASIAX%2F20260101%2Fus-east-1%2Fsts%2Faws4_request", nil)
	if got := stsserver.AccessKeyOf(r); got != "ASIAX" {
		t.Errorf("AccessKeyOf presigned = %q", got)
	}
	if got := stsserver.AccessKeyOf(httptest.NewRequest(http.MethodGet, "/", nil)); got != "" {
		t.Errorf("AccessKeyOf unsigned = %q", got)
	}
}
