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
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/fsxkms/fsxkms/pkg/check"
)

// KMS is the subset of the KMS client that Read uses.
type KMS interface {
	KeyDescriber
	GetKeyPolicy(ctx context.Context, in *kms.GetKeyPolicyInput, optFns ...func(*kms.Options)) (*kms.GetKeyPolicyOutput, error)
	ListGrants(ctx context.Context, in *kms.ListGrantsInput, optFns ...func(*kms.Options)) (*kms.ListGrantsOutput, error)
	ListAliases(ctx context.Context, in *kms.ListAliasesInput, optFns ...func(*kms.Options)) (*kms.ListAliasesOutput, error)
}

// KeyDescriber is the part of the KMS client that Resolve uses.
type KeyDescriber interface {
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, optFns ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
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

	// Each read fills its part of s or fails; s.file records the failure
	// and says whether to go on. A key whose metadata says nothing usable is
	// judged on what else can be read, its state unknown.
	s.Calls = append(s.Calls, "DescribeKey")
	d, err := call(ctx, b, "kms:DescribeKey", func(ctx context.Context) (*kms.DescribeKeyOutput, error) {
		return api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyARN)})
	})
	if err == nil {
		if err = checkMetadata(keyARN, d); err == nil {
			s.Key = fromMetadata(d.KeyMetadata)
		}
	}
	if stop, err := s.file("kms:DescribeKey", keyARN, err); stop {
		return s, err
	}

	s.Calls = append(s.Calls, "GetKeyPolicy")
	p, err := call(ctx, b, "kms:GetKeyPolicy", func(ctx context.Context) (*kms.GetKeyPolicyOutput, error) {
		return api.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(keyARN), PolicyName: aws.String("default")})
	})
	switch {
	case err != nil:
	case p == nil || strings.TrimSpace(aws.ToString(p.Policy)) == "":
		err = fmt.Errorf("%w: no Policy", ErrEmptyAnswer)
	default:
		s.Policy = aws.ToString(p.Policy)
	}
	if stop, err := s.file("kms:GetKeyPolicy", keyARN, err); stop {
		return s, err
	}

	grants, calls, err := listGrants(ctx, b, api, keyARN)
	s.Calls = append(s.Calls, calls...)
	if err == nil {
		s.Grants, s.GrantsRead = grants, true
	}
	_, err = s.file("kms:ListGrants", keyARN, err)
	return s, err
}

// file records in s why one read failed, if it did, and says whether Read
// stops. An answer with nothing usable (ErrEmptyAnswer, ErrOtherKey, a
// listing that does not end: retrying will not help) and a refusal
// (AccessDenied, NotFound) become s.Errors; after NotFound there is nothing
// more to read. Anything else is returned, and stops Read: the key is not
// judged.
func (s *Snapshot) file(call, keyARN string, err error) (stop bool, _ error) {
	if err == nil {
		return false, nil
	}
	for _, e := range []error{ErrEmptyAnswer, ErrOtherKey, ErrTooManyPages, ErrRepeatedToken} {
		if errors.Is(err, e) {
			s.Errors = append(s.Errors, otherError(call, err))
			return false, nil
		}
	}
	rerr, ok := readError(call, err)
	if !ok {
		return true, fmt.Errorf("%s %s: %w", call, keyARN, err)
	}
	s.Errors = append(s.Errors, rerr)
	return rerr.Kind == check.NotFound, nil
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
func describes(asked, keyARN, id string) bool {
	if keyARN == "" {
		return false
	}
	switch {
	case strings.HasPrefix(asked, "arn:") && strings.Contains(asked, ":alias/"):
		a, err1 := arn.Parse(asked)
		k, err2 := arn.Parse(keyARN)
		return err1 == nil && err2 == nil && k.Service == "kms" && strings.HasPrefix(k.Resource, "key/") &&
			a.Partition == k.Partition && a.Region == k.Region && a.AccountID == k.AccountID
	case strings.HasPrefix(asked, "arn:"):
		return keyARN == asked
	case strings.HasPrefix(asked, "alias/"):
		return strings.Contains(keyARN, ":key/")
	default:
		return id == asked && strings.HasSuffix(keyARN, ":key/"+asked)
	}
}

// Resolve returns the ARN of the key an alias (name or ARN) or a key id
// names. An answer without a key ARN, about another key id, or (for an alias
// ARN) naming a key in another partition, Region or account, is an error.
func Resolve(ctx context.Context, api KeyDescriber, alias string, opts ...Option) (string, error) {
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
	if nf, ok := errors.AsType[*types.NotFoundException](err); ok {
		return check.ReadError{Call: call, Kind: check.NotFound, Message: nf.ErrorMessage()}, true
	}
	if api, ok := errors.AsType[smithy.APIError](err); ok {
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
func fromARN(keyARN string) check.Key {
	k := check.Key{ARN: keyARN}
	if a, err := arn.Parse(keyARN); err == nil && a.Service == "kms" {
		k.Region, k.Account = a.Region, a.AccountID
		if id, ok := strings.CutPrefix(a.Resource, "key/"); ok && id != "" {
			k.ID = id
		}
	}
	return k
}
