// Package keys reads a KMS key as it is now (metadata, policy, grants and
// aliases) and returns it as plain structs for the check package.
//
// Read makes at most one DescribeKey, one GetKeyPolicy and one ListGrants call
// per page; Aliases, asked for only when an alert will name the key, makes
// one ListAliases call; Resolve, for an event that names a key only by
// alias, makes one DescribeKey call. AccessDenied and NotFound answers are not
// errors: they are recorded in the snapshot so the check can name them as
// findings. Anything else (throttling after the SDK's retries, 5xx, network)
// is returned as an error: the key was not judged and the caller must retry.
package keys

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/fsxkms/fsxkms/pkg/check"
)

// KMS is the subset of the KMS client that Read uses.
type KMS interface {
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, optFns ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
	GetKeyPolicy(ctx context.Context, in *kms.GetKeyPolicyInput, optFns ...func(*kms.Options)) (*kms.GetKeyPolicyOutput, error)
	ListGrants(ctx context.Context, in *kms.ListGrantsInput, optFns ...func(*kms.Options)) (*kms.ListGrantsOutput, error)
	ListAliases(ctx context.Context, in *kms.ListAliasesInput, optFns ...func(*kms.Options)) (*kms.ListAliasesOutput, error)
}

// Snapshot is a key as read now.
type Snapshot struct {
	Key        check.Key
	Policy     string
	Grants     []check.Grant
	GrantsRead bool
	// Errors are the reads that KMS refused (AccessDenied) or could not find
	// the key for (NotFound).
	Errors []check.ReadError
	// Calls lists the KMS operations made, in order, for logs and metrics.
	Calls []string
}

// Read takes a snapshot of the key identified by keyARN.
func Read(ctx context.Context, api KMS, keyARN string) (Snapshot, error) {
	s := Snapshot{Key: fromARN(keyARN)}

	s.Calls = append(s.Calls, "DescribeKey")
	d, err := api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyARN)})
	if err != nil {
		if rerr, ok := readError("kms:DescribeKey", err); ok {
			s.Errors = append(s.Errors, rerr)
			if rerr.Kind == check.NotFound {
				return s, nil // nothing more to read
			}
		} else {
			return s, fmt.Errorf("kms:DescribeKey %s: %w", keyARN, err)
		}
	} else if d.KeyMetadata != nil {
		s.Key = fromMetadata(d.KeyMetadata)
	}

	s.Calls = append(s.Calls, "GetKeyPolicy")
	p, err := api.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(keyARN), PolicyName: aws.String("default")})
	if err != nil {
		rerr, ok := readError("kms:GetKeyPolicy", err)
		if !ok {
			return s, fmt.Errorf("kms:GetKeyPolicy %s: %w", keyARN, err)
		}
		s.Errors = append(s.Errors, rerr)
		if rerr.Kind == check.NotFound {
			return s, nil
		}
	} else {
		s.Policy = aws.ToString(p.Policy)
	}

	grants, calls, err := listGrants(ctx, api, keyARN)
	s.Calls = append(s.Calls, calls...)
	if err != nil {
		rerr, ok := readError("kms:ListGrants", err)
		if !ok {
			return s, fmt.Errorf("kms:ListGrants %s: %w", keyARN, err)
		}
		s.Errors = append(s.Errors, rerr)
		if rerr.Kind == check.NotFound {
			return s, nil
		}
	} else {
		s.Grants, s.GrantsRead = grants, true
	}

	return s, nil
}

// Resolve returns the ARN of the key an alias (name or ARN) points at.
func Resolve(ctx context.Context, api KMS, alias string) (string, error) {
	out, err := api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(alias)})
	if err != nil {
		return "", fmt.Errorf("kms:DescribeKey %s: %w", alias, err)
	}
	if out.KeyMetadata == nil || out.KeyMetadata.Arn == nil {
		return "", fmt.Errorf("kms:DescribeKey %s: no key ARN in the answer", alias)
	}
	return aws.ToString(out.KeyMetadata.Arn), nil
}

// Aliases returns the alias names of the key, all pages. Aliases only make
// alerts easier to read, so the caller treats a failure as "no alias", not
// as a finding.
func Aliases(ctx context.Context, api KMS, keyARN string) ([]string, error) {
	var names []string
	p := kms.NewListAliasesPaginator(api, &kms.ListAliasesInput{KeyId: aws.String(keyARN)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return names, fmt.Errorf("kms:ListAliases %s: %w", keyARN, err)
		}
		for _, a := range page.Aliases {
			names = append(names, aws.ToString(a.AliasName))
		}
	}
	return names, nil
}

// Refused reports whether err is KMS answering NotFound or AccessDenied: an
// answer about the key, not a failure to get one (throttling, 5xx, network),
// which the caller should retry.
func Refused(err error) bool {
	_, ok := readError("", err)
	return ok
}

func listGrants(ctx context.Context, api KMS, keyARN string) ([]check.Grant, []string, error) {
	var (
		out   []check.Grant
		calls []string
	)
	p := kms.NewListGrantsPaginator(api, &kms.ListGrantsInput{KeyId: aws.String(keyARN)})
	for p.HasMorePages() {
		calls = append(calls, "ListGrants")
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, calls, err
		}
		for _, g := range page.Grants {
			out = append(out, fromGrant(g))
		}
	}
	return out, calls, nil
}

// readError classifies err: AccessDenied and NotFound become ReadErrors
// (ok=true); anything else is left to the caller as a real error.
func readError(call string, err error) (check.ReadError, bool) {
	var nf *types.NotFoundException
	if errors.As(err, &nf) {
		return check.ReadError{Call: call, Kind: check.NotFound, Message: nf.ErrorMessage()}, true
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "AccessDeniedException", "AccessDenied", "KMSAccessDeniedException", "UnauthorizedOperation":
			return check.ReadError{Call: call, Kind: check.AccessDenied, Message: api.ErrorMessage()}, true
		case "NotFoundException":
			return check.ReadError{Call: call, Kind: check.NotFound, Message: api.ErrorMessage()}, true
		}
	}
	return check.ReadError{}, false
}

func fromMetadata(m *types.KeyMetadata) check.Key {
	k := fromARN(aws.ToString(m.Arn))
	k.ID = aws.ToString(m.KeyId)
	if m.AWSAccountId != nil {
		k.Account = aws.ToString(m.AWSAccountId)
	}
	k.State = string(m.KeyState)
	k.Manager = string(m.KeyManager)
	k.Spec = string(m.KeySpec)
	k.Origin = string(m.Origin)
	k.DeletionDate = aws.ToTime(m.DeletionDate)
	k.ValidTo = aws.ToTime(m.ValidTo)
	k.KeyStoreID = aws.ToString(m.CustomKeyStoreId)
	k.MultiRegion = aws.ToBool(m.MultiRegion)
	if c := m.MultiRegionConfiguration; c != nil {
		k.MultiRegionKeyType = string(c.MultiRegionKeyType)
	}
	return k
}

func fromGrant(g types.GrantListEntry) check.Grant {
	out := check.Grant{
		ID:                aws.ToString(g.GrantId),
		Name:              aws.ToString(g.Name),
		GranteePrincipal:  aws.ToString(g.GranteePrincipal),
		RetiringPrincipal: aws.ToString(g.RetiringPrincipal),
	}
	for _, op := range g.Operations {
		out.Operations = append(out.Operations, string(op))
	}
	if c := g.Constraints; c != nil {
		out.SourceARN = aws.ToString(c.SourceArn)
		for k, v := range c.EncryptionContextSubset {
			if out.EncryptionContext == nil {
				out.EncryptionContext = map[string]string{}
			}
			out.EncryptionContext[k] = v
		}
		for k, v := range c.EncryptionContextEquals {
			if out.EncryptionContext == nil {
				out.EncryptionContext = map[string]string{}
			}
			out.EncryptionContext[k] = v
		}
	}
	return out
}

// fromARN fills what a key ARN tells: arn:aws:kms:<region>:<account>:key/<id>.
func fromARN(arn string) check.Key {
	k := check.Key{ARN: arn}
	var part [6]string
	n := 0
	start := 0
	for i := 0; i < len(arn) && n < 5; i++ {
		if arn[i] == ':' {
			part[n] = arn[start:i]
			n++
			start = i + 1
		}
	}
	if n == 5 && part[0] == "arn" && part[2] == "kms" {
		k.Region, k.Account = part[3], part[4]
		if rest := arn[start:]; len(rest) > 4 && rest[:4] == "key/" {
			k.ID = rest[4:]
		}
	}
	return k
}
