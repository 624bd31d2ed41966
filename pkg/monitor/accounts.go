package monitor

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/fsx"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/fsxkms/fsxkms/pkg/inventory"
	"github.com/fsxkms/fsxkms/pkg/keys"
)

// Reader reads one account and Region: the KMS and FSx clients (with the
// account's read role when it is not the monitor's own) and the account's
// FSx inventory.
type Reader struct {
	Account, Region string
	KMS             keys.KMS
	Inventory       Inventory
	// Role is the read role assumed; empty for the monitor's own account.
	Role string
}

// Readers gives the Reader of an account and Region. The organization
// deployment (DEPLOYMENT=central) sets one on the Monitor; without it the
// monitor reads only with its own clients.
type Readers interface {
	Reader(ctx context.Context, account, region string) (*Reader, error)
}

// RoleError says the read role of a member account could not be assumed:
// missing, or not trusting the monitor. The monitor reports it as
// MONITOR_ACCESS_DENIED naming the role, never as a silent skip.
type RoleError struct {
	Role string
	Err  error
}

func (e *RoleError) Error() string { return fmt.Sprintf("assume %s: %v", e.Role, e.Err) }

// Unwrap returns STS's error.
func (e *RoleError) Unwrap() error { return e.Err }

// Refused reports whether STS refused the role (AccessDenied), rather than
// failing for a reason a retry may cure.
func (e *RoleError) Refused() bool {
	if api, ok := errors.AsType[smithy.APIError](e.Err); ok {
		switch api.ErrorCode() {
		case "AccessDenied", "AccessDeniedException", "NoSuchEntity", "InvalidClientTokenId":
			return true
		}
	}
	return false
}

// Org reads the accounts of an organization: the monitor's own account with
// its own credentials, every other account with its read role
// (arn:<partition>:iam::<account>:role/<RoleName>), whose credentials are
// cached per account until they expire. Readers are made once per account
// and Region and kept.
type Org struct {
	// Config is the function's own AWS configuration.
	Config aws.Config
	// Own is the monitor's own account and Own its Reader's region-less
	// clients' account; its Readers use Config's credentials.
	Own string
	// RoleName is the member accounts' read role (READ_ROLE_NAME).
	RoleName string
	// Inventory tunes each account's FSx inventory (TTL, timeouts,
	// FSX_KEY_ARNS apply to the own account only).
	Inventory func(fsx *fsx.Client, kms *kms.Client, own bool) *inventory.Source

	mu      sync.Mutex
	creds   map[string]aws.CredentialsProvider // by account
	readers map[string]*Reader                 // by account/region
}

// Reader returns the Reader of account in region.
func (o *Org) Reader(ctx context.Context, account, region string) (*Reader, error) {
	if account == "" || region == "" {
		return nil, fmt.Errorf("no account or Region to read")
	}
	k := account + "/" + region
	o.mu.Lock()
	if r, ok := o.readers[k]; ok {
		o.mu.Unlock()
		return r, nil
	}
	o.mu.Unlock()
	cfg, role, err := o.ConfigFor(ctx, account, region)
	if err != nil {
		return nil, err
	}
	own := account == o.Own
	kmsClient := kms.NewFromConfig(cfg)
	r := &Reader{Account: account, Region: region, KMS: kmsClient, Role: role,
		Inventory: o.Inventory(fsx.NewFromConfig(cfg), kmsClient, own)}
	o.mu.Lock()
	defer o.mu.Unlock()
	if prev, ok := o.readers[k]; ok {
		return prev, nil
	}
	if o.readers == nil {
		o.readers = map[string]*Reader{}
	}
	o.readers[k] = r
	return r, nil
}

// ConfigFor returns the AWS configuration that acts as account in region:
// the function's own for its own account, else with the account's read
// role (its ARN is role), assumed now so that a refused role is one
// RoleError naming it.
func (o *Org) ConfigFor(ctx context.Context, account, region string) (cfg aws.Config, role string, err error) {
	cfg = o.Config.Copy()
	cfg.Region = region
	if account == o.Own {
		return cfg, "", nil
	}
	role = fmt.Sprintf("arn:%s:iam::%s:role/%s", partitionOf(region), account, o.RoleName)
	o.mu.Lock()
	p, ok := o.creds[account]
	if !ok {
		stsClient := sts.NewFromConfig(o.Config)
		p = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, role, func(ao *stscreds.AssumeRoleOptions) {
			ao.RoleSessionName = "fsxkms"
		}))
		if o.creds == nil {
			o.creds = map[string]aws.CredentialsProvider{}
		}
		o.creds[account] = p
	}
	o.mu.Unlock()
	cfg.Credentials = p
	if _, err := p.Retrieve(ctx); err != nil {
		return aws.Config{}, role, &RoleError{Role: role, Err: err}
	}
	return cfg, role, nil
}

// reader returns the Reader of account and region: the monitor's own
// clients without Readers (or when account is empty), else Readers'.
func (m *Monitor) reader(ctx context.Context, account, region string) (*Reader, error) {
	if m.Readers == nil || account == "" {
		return &Reader{Account: account, Region: region, KMS: m.KMS, Inventory: m.Inventory}, nil
	}
	return m.Readers.Reader(ctx, account, region)
}

// keyReader returns the KMS client to read key arn with: r's, unless the
// key lives in another account or Region (an FSx resource in one account
// using a key of another), then that account's.
func (m *Monitor) keyReader(ctx context.Context, r *Reader, keyARN string) (*Reader, error) {
	if m.Readers == nil {
		return r, nil
	}
	a, err := arn.Parse(keyARN)
	if err != nil || (a.AccountID == r.Account && a.Region == r.Region) {
		return r, nil
	}
	return m.Readers.Reader(ctx, a.AccountID, a.Region)
}
