// Package keys reads a KMS key as it is now (metadata, policy, grants and
// aliases) and returns it as plain structs for the check package.
//
// Read makes at most one DescribeKey, one GetKeyPolicy and one ListGrants call
// per page; Aliases, asked for only when an alert will name the key, makes
// one ListAliases call per page; Resolve, for an event that names a key only
// by alias, makes one DescribeKey call. AccessDenied and NotFound answers are
// not errors: they are recorded in the snapshot so the check can name them as
// findings. So are answers that say nothing (DescribeKey without KeyMetadata
// or KeyState, metadata of another key, GetKeyPolicy without a policy) and
// paging that does not end: a key read that way is never taken for a healthy
// one. Anything else (throttling after the SDK's retries, 5xx, network, a call
// that does not answer within its timeout) is returned as an error: the key
// was not judged and the caller must retry.
//
// Every AWS call has its own deadline (DefaultCallTimeout, see
// WithCallTimeout) and paging stops after DefaultMaxPages pages (see
// WithMaxPages) or when the service repeats a page token.
package keys

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

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

// Bounds of the reads, unless an Option says otherwise.
const (
	// DefaultCallTimeout is how long one AWS call (with the SDK's retries)
	// may take. KMS answers these reads in milliseconds; a call that takes
	// this long is stuck.
	DefaultCallTimeout = 10 * time.Second
	// DefaultMaxPages is how many pages one listing may take. ListGrants
	// asks for 100 grants a page, so this reads up to 10,000 grants.
	DefaultMaxPages = 100
)

// grantsPerPage is the ListGrants Limit: the most KMS returns in one page.
const grantsPerPage = 100

// Errors of reads that KMS answered, but with nothing usable. Read records
// them as check.ReadErrors (kind check.OtherError); Aliases and Resolve
// return them wrapped. Test with errors.Is.
var (
	// ErrEmptyAnswer: the answer lacks what it must carry (KeyMetadata,
	// KeyState, Policy).
	ErrEmptyAnswer = errors.New("answer without the data asked for")
	// ErrOtherKey: DescribeKey described another key than the one asked for.
	ErrOtherKey = errors.New("answer about another key")
	// ErrTooManyPages: a listing did not end within the page cap.
	ErrTooManyPages = errors.New("paging did not end")
	// ErrRepeatedToken: a listing returned the page token it was given.
	ErrRepeatedToken = errors.New("the same page token twice")
	// ErrCallTimeout: one AWS call did not answer within its timeout. It is
	// returned as an error (the key is not judged; retry), not recorded.
	ErrCallTimeout = errors.New("no answer within the call timeout")
)

// Option changes a bound of Read, Resolve or Aliases.
type Option func(*bounds)

type bounds struct {
	timeout  time.Duration
	maxPages int
}

// WithCallTimeout sets how long each AWS call may take; d <= 0 keeps
// DefaultCallTimeout.
func WithCallTimeout(d time.Duration) Option {
	return func(b *bounds) {
		if d > 0 {
			b.timeout = d
		}
	}
}

// WithMaxPages sets how many pages a listing may take; n <= 0 keeps
// DefaultMaxPages.
func WithMaxPages(n int) Option {
	return func(b *bounds) {
		if n > 0 {
			b.maxPages = n
		}
	}
}

func newBounds(opts []Option) bounds {
	b := bounds{timeout: DefaultCallTimeout, maxPages: DefaultMaxPages}
	for _, o := range opts {
		if o != nil {
			o(&b)
		}
	}
	return b
}

// call runs one AWS call under its own deadline. A call that runs out of
// its own time (not the caller's) fails with ErrCallTimeout as well as the
// SDK's error.
func call[T any](ctx context.Context, b bounds, name string, f func(context.Context) (T, error)) (T, error) {
	cctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	out, err := f(cctx)
	if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%s: %w (%v): %w", name, ErrCallTimeout, b.timeout, err)
	}
	return out, err
}

// Snapshot is a key as read now.
type Snapshot struct {
	Key        check.Key
	Policy     string
	Grants     []check.Grant
	GrantsRead bool
	// Errors are the reads that KMS refused (AccessDenied), could not find
	// the key for (NotFound) or answered with nothing usable (OtherError).
	Errors []check.ReadError
	// Calls lists the KMS operations made, in order, for logs and metrics.
	Calls []string
}

// Read takes a snapshot of the key identified by keyARN.
func Read(ctx context.Context, api KMS, keyARN string, opts ...Option) (Snapshot, error) {
	b := newBounds(opts)
	s := Snapshot{Key: fromARN(keyARN)}

	s.Calls = append(s.Calls, "DescribeKey")
	d, err := call(ctx, b, "kms:DescribeKey", func(ctx context.Context) (*kms.DescribeKeyOutput, error) {
		return api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyARN)})
	})
	if err != nil {
		if rerr, ok := readError("kms:DescribeKey", err); ok {
			s.Errors = append(s.Errors, rerr)
			if rerr.Kind == check.NotFound {
				return s, nil // nothing more to read
			}
		} else {
			return s, fmt.Errorf("kms:DescribeKey %s: %w", keyARN, err)
		}
	} else if err := checkMetadata(keyARN, d); err != nil {
		// The key is judged on what else can be read, its state unknown.
		s.Errors = append(s.Errors, otherError("kms:DescribeKey", err))
	} else {
		s.Key = fromMetadata(d.KeyMetadata)
	}

	s.Calls = append(s.Calls, "GetKeyPolicy")
	p, err := call(ctx, b, "kms:GetKeyPolicy", func(ctx context.Context) (*kms.GetKeyPolicyOutput, error) {
		return api.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(keyARN), PolicyName: aws.String("default")})
	})
	if err != nil {
		rerr, ok := readError("kms:GetKeyPolicy", err)
		if !ok {
			return s, fmt.Errorf("kms:GetKeyPolicy %s: %w", keyARN, err)
		}
		s.Errors = append(s.Errors, rerr)
		if rerr.Kind == check.NotFound {
			return s, nil
		}
	} else if p == nil || strings.TrimSpace(aws.ToString(p.Policy)) == "" {
		s.Errors = append(s.Errors, otherError("kms:GetKeyPolicy", fmt.Errorf("%w: no Policy", ErrEmptyAnswer)))
	} else {
		s.Policy = aws.ToString(p.Policy)
	}

	grants, calls, err := listGrants(ctx, b, api, keyARN)
	s.Calls = append(s.Calls, calls...)
	switch {
	case errors.Is(err, ErrTooManyPages) || errors.Is(err, ErrRepeatedToken) || errors.Is(err, ErrEmptyAnswer):
		// Retrying will not make the listing end: say so, judge the rest.
		s.Errors = append(s.Errors, otherError("kms:ListGrants", err))
	case err != nil:
		rerr, ok := readError("kms:ListGrants", err)
		if !ok {
			return s, fmt.Errorf("kms:ListGrants %s: %w", keyARN, err)
		}
		s.Errors = append(s.Errors, rerr)
		if rerr.Kind == check.NotFound {
			return s, nil
		}
	default:
		s.Grants, s.GrantsRead = grants, true
	}

	return s, nil
}

// checkMetadata reports a DescribeKey answer that does not describe the key
// asked for: no KeyMetadata, no KeyState, or another key's ARN.
func checkMetadata(asked string, d *kms.DescribeKeyOutput) error {
	if d == nil || d.KeyMetadata == nil {
		return fmt.Errorf("%w: no KeyMetadata", ErrEmptyAnswer)
	}
	m := d.KeyMetadata
	if m.KeyState == "" {
		return fmt.Errorf("%w: KeyMetadata has no KeyState", ErrEmptyAnswer)
	}
	if !describes(asked, aws.ToString(m.Arn), aws.ToString(m.KeyId)) {
		return fmt.Errorf("%w: asked for %s, got KeyMetadata.Arn %s", ErrOtherKey, quote(asked), quote(aws.ToString(m.Arn)))
	}
	return nil
}

// describes reports whether metadata with the given ARN and key ID is an
// answer about asked: the same key ARN; for a bare key ID, the same ID; for
// an alias, a key in the alias's own partition, Region and account.
func describes(asked, arn, id string) bool {
	if arn == "" {
		return false
	}
	switch {
	case strings.HasPrefix(asked, "arn:") && strings.Contains(asked, ":alias/"):
		ap, kp := strings.SplitN(asked, ":", 6), strings.SplitN(arn, ":", 6)
		return len(ap) == 6 && len(kp) == 6 && kp[2] == "kms" && strings.HasPrefix(kp[5], "key/") &&
			ap[1] == kp[1] && ap[3] == kp[3] && ap[4] == kp[4]
	case strings.HasPrefix(asked, "arn:"):
		return arn == asked
	case strings.HasPrefix(asked, "alias/"):
		return strings.Contains(arn, ":key/")
	default:
		return id == asked && strings.HasSuffix(arn, ":key/"+asked)
	}
}

// Resolve returns the ARN of the key an alias (name or ARN) points at. An
// answer without a key ARN, or (for an alias ARN) naming a key in another
// partition, Region or account, is an error.
func Resolve(ctx context.Context, api KMS, alias string, opts ...Option) (string, error) {
	b := newBounds(opts)
	out, err := call(ctx, b, "kms:DescribeKey", func(ctx context.Context) (*kms.DescribeKeyOutput, error) {
		return api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(alias)})
	})
	if err != nil {
		return "", fmt.Errorf("kms:DescribeKey %s: %w", alias, err)
	}
	if out == nil || out.KeyMetadata == nil || aws.ToString(out.KeyMetadata.Arn) == "" {
		return "", fmt.Errorf("kms:DescribeKey %s: %w: no key ARN", alias, ErrEmptyAnswer)
	}
	arn := aws.ToString(out.KeyMetadata.Arn)
	if !describes(alias, arn, aws.ToString(out.KeyMetadata.KeyId)) {
		return "", fmt.Errorf("kms:DescribeKey %s: %w: %s", alias, ErrOtherKey, quote(arn))
	}
	return arn, nil
}

// Aliases returns the alias names of the key, all pages. Aliases only make
// alerts easier to read, so the caller treats a failure as "no alias", not
// as a finding. A listing that does not end fails with ErrTooManyPages or
// ErrRepeatedToken, with the names read so far.
func Aliases(ctx context.Context, api KMS, keyARN string, opts ...Option) ([]string, error) {
	b := newBounds(opts)
	var names []string
	p := kms.NewListAliasesPaginator(api, &kms.ListAliasesInput{KeyId: aws.String(keyARN)},
		func(o *kms.ListAliasesPaginatorOptions) { o.StopOnDuplicateToken = true })
	var last *string
	for pages := 0; p.HasMorePages(); pages++ {
		if pages == b.maxPages {
			return names, fmt.Errorf("kms:ListAliases %s: %w: stopped after %d pages", keyARN, ErrTooManyPages, pages)
		}
		page, err := call(ctx, b, "kms:ListAliases", func(ctx context.Context) (*kms.ListAliasesOutput, error) {
			return p.NextPage(ctx)
		})
		if err != nil {
			return names, fmt.Errorf("kms:ListAliases %s: %w", keyARN, err)
		}
		for _, a := range page.Aliases {
			names = append(names, aws.ToString(a.AliasName))
		}
		if repeated(last, page.NextMarker) {
			return names, fmt.Errorf("kms:ListAliases %s: %w (NextMarker %s)", keyARN, ErrRepeatedToken, quote(aws.ToString(last)))
		}
		if page.Truncated && aws.ToString(page.NextMarker) == "" {
			return names, fmt.Errorf("kms:ListAliases %s: %w: Truncated without NextMarker", keyARN, ErrEmptyAnswer)
		}
		last = page.NextMarker
	}
	return names, nil
}

// repeated reports whether a page gave back the token that asked for it;
// the paginator (StopOnDuplicateToken) then stops quietly, and the listing
// is incomplete.
func repeated(prev, next *string) bool {
	return prev != nil && next != nil && *prev != "" && *prev == *next
}

// Refused reports whether err is KMS answering NotFound or AccessDenied: an
// answer about the key, not a failure to get one (throttling, 5xx, network),
// which the caller should retry.
func Refused(err error) bool {
	_, ok := readError("", err)
	return ok
}

func listGrants(ctx context.Context, b bounds, api KMS, keyARN string) ([]check.Grant, []string, error) {
	var (
		out   []check.Grant
		calls []string
		last  *string
	)
	p := kms.NewListGrantsPaginator(api, &kms.ListGrantsInput{KeyId: aws.String(keyARN)},
		func(o *kms.ListGrantsPaginatorOptions) { o.Limit, o.StopOnDuplicateToken = grantsPerPage, true })
	for pages := 0; p.HasMorePages(); pages++ {
		if pages == b.maxPages {
			return nil, calls, fmt.Errorf("%w: stopped after %d pages (%d grants)", ErrTooManyPages, pages, len(out))
		}
		calls = append(calls, "ListGrants")
		page, err := call(ctx, b, "kms:ListGrants", func(ctx context.Context) (*kms.ListGrantsOutput, error) {
			return p.NextPage(ctx)
		})
		if err != nil {
			return nil, calls, err
		}
		for _, g := range page.Grants {
			out = append(out, fromGrant(g))
		}
		if repeated(last, page.NextMarker) {
			return nil, calls, fmt.Errorf("%w: NextMarker %s after %d pages", ErrRepeatedToken, quote(aws.ToString(last)), pages+1)
		}
		if page.Truncated && aws.ToString(page.NextMarker) == "" {
			return nil, calls, fmt.Errorf("%w: Truncated without NextMarker after %d pages", ErrEmptyAnswer, pages+1)
		}
		last = page.NextMarker
	}
	return out, calls, nil
}

// otherError records an answer that says nothing usable.
func otherError(call string, err error) check.ReadError {
	return check.ReadError{Call: call, Kind: check.OtherError, Message: err.Error()}
}

// maxQuoted bounds a value from an AWS answer quoted in an error.
const maxQuoted = 256

// quote quotes s for an error message, clipped to maxQuoted bytes with the
// length said.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return fmt.Sprintf("%q", s)
	}
	cut := maxQuoted
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return fmt.Sprintf("%q... (clipped, %d bytes)", s[:cut], len(s))
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
