package devstack

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/fsxkms/fsxkms/internal/devstack/awsjson"
	"github.com/fsxkms/fsxkms/internal/devstack/fsxserver"
	"github.com/fsxkms/fsxkms/internal/devstack/kmsproxy"
	"github.com/fsxkms/fsxkms/internal/devstack/securityhubserver"
	"github.com/fsxkms/fsxkms/internal/devstack/stsserver"
)

// AccessKeyFor returns the access key id with which a request acts as
// account on the stack ("AKIA" + account + "TEST"; any secret): a member's
// for a test that builds SDK clients as that member.
func AccessKeyFor(account string) string { return stsserver.AccessKeyFor(account) }

// CredentialsFor returns static credentials of account: AccessKeyFor's
// key id and a dummy secret.
func CredentialsFor(account string) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: AccessKeyFor(account), SecretAccessKey: "test", Source: "devstack"}, nil
	})
}

// KMSFor returns the KMS proxy of account (the central one is KMS), for
// its grants, Simulations, faults and call counters; nil when account is
// not one of Accounts.
func (s *Stack) KMSFor(account string) *kmsproxy.Proxy { return s.kms[account] }

// FSxFor returns the FSx server of account (the central one is FSx), for
// its inventory, faults and call counters; nil when account is not one of
// Accounts.
func (s *Stack) FSxFor(account string) *fsxserver.Server { return s.fsx[account] }

// SecurityHubFor returns the Security Hub stand-in of account (the central
// one is SecurityHub), for what it received.
func (s *Stack) SecurityHubFor(account string) *securityhubserver.Server {
	return s.securityHubs[account]
}

// SetInventoryFor replaces the FSx inventory of account
// (s.FSx.SetInventory is the central account's).
func (s *Stack) SetInventoryFor(account string, inv fsxserver.Inventory) error {
	f := s.fsx[account]
	if f == nil {
		return fmt.Errorf("devstack: SetInventoryFor: %s is not an account of the stack (%v)", account, s.Accounts)
	}
	return f.SetInventory(inv)
}

// LocalKMSEndpointFor returns the URL of the local-kms of account, behind
// the KMS proxy; "" when account is not one of Accounts.
func (s *Stack) LocalKMSEndpointFor(account string) string { return s.localKMS[account] }

// ReadRoleARN returns the ARN of account's read role,
// arn:aws:iam::<account>:role/<ReadRoleName>.
func (s *Stack) ReadRoleARN(account string) string { return s.STS.RoleARN(account) }

// byAccount sends each request to the handler of the account whose access
// key signed it (stsserver.Server.Lookup); an access key the stack never
// issued, or expired, is refused as AWS JSON services refuse it.
type byAccount struct {
	sts      *stsserver.Server
	handlers map[string]http.Handler
}

func (b byAccount) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, err := b.sts.Lookup(stsserver.AccessKeyOf(r))
	switch {
	case errors.Is(err, stsserver.ErrExpiredToken):
		awsjson.WriteError(w, http.StatusBadRequest, "ExpiredTokenException", stsserver.ExpiredTokenMessage)
	case err != nil:
		awsjson.WriteError(w, http.StatusBadRequest, "UnrecognizedClientException", stsserver.InvalidTokenMessage)
	default:
		b.handlers[id.Account].ServeHTTP(w, r)
	}
}
