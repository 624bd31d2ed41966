// Package inventory finds which KMS keys Amazon FSx uses: every file system
// (Windows, Lustre, ONTAP, OpenZFS), backup and Amazon File Cache, grouped by
// key ARN.
//
// A Source lists FSx once and keeps the result for a TTL, so a warm Lambda
// answers "does FSx use this key?" without an FSx call. Keys that FSx
// reports as an id or alias are resolved to ARNs with kms:DescribeKey
// (keys.Resolve).
package inventory

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/fsx"
	fsxtypes "github.com/aws/aws-sdk-go-v2/service/fsx/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/fsxkms/fsxkms/pkg/check"
	"github.com/fsxkms/fsxkms/pkg/keys"
)

// DefaultTTL is how long a listing is reused.
const DefaultTTL = 5 * time.Minute

// DefaultCallTimeout bounds one FSx or KMS call of a listing (all its SDK
// retries included) when Source.CallTimeout is zero.
const DefaultCallTimeout = 10 * time.Second

// MaxPages bounds the pages read from one FSx Describe operation: a service
// that keeps returning a NextToken (fresh or repeated) ends the listing with
// an error naming the call instead of paging forever. At FSx's default page
// size that is far more resources than an account holds.
const MaxPages = 1000

// FSx is the subset of the FSx client the inventory uses.
type FSx interface {
	DescribeFileSystems(ctx context.Context, in *fsx.DescribeFileSystemsInput, optFns ...func(*fsx.Options)) (*fsx.DescribeFileSystemsOutput, error)
	DescribeBackups(ctx context.Context, in *fsx.DescribeBackupsInput, optFns ...func(*fsx.Options)) (*fsx.DescribeBackupsOutput, error)
	DescribeFileCaches(ctx context.Context, in *fsx.DescribeFileCachesInput, optFns ...func(*fsx.Options)) (*fsx.DescribeFileCachesOutput, error)
}

// KeyResolver turns a key id or alias into a key ARN (kms:DescribeKey).
type KeyResolver interface {
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, optFns ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
}

// Inventory is one listing of FSx: the resources using each key.
type Inventory struct {
	// ByKey maps a key ARN to the FSx resources encrypted with it. Keys
	// named in Source.ExtraKeys are present even with no resource.
	ByKey map[string][]check.Resource
	// Listed holds the keys named in Source.ExtraKeys (FSX_KEY_ARNS): FSx
	// uses them whatever the listing says.
	Listed map[string]bool
	// Resources counts the file systems, backups and caches listed.
	Resources int
	// Calls counts the FSx and KMS calls made to build the listing.
	Calls int
	// Taken is when the listing was made.
	Taken time.Time
}

// Keys returns the key ARNs in the inventory, sorted.
func (inv *Inventory) Keys() []string {
	ks := make([]string, 0, len(inv.ByKey))
	for k := range inv.ByKey {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Source lists FSx on demand and caches the result. The zero value is not
// usable: set FSx (unless Discovery is off) and KMS.
type Source struct {
	FSx FSx
	KMS KeyResolver
	// TTL is how long a listing is reused; DefaultTTL when zero. NoCache
	// lists FSx on every Get.
	TTL time.Duration
	// NoCache lists FSx on every Get (INVENTORY_TTL=0).
	NoCache bool
	// CallTimeout bounds each FSx call and each kms:DescribeKey made to
	// resolve a key id; DefaultCallTimeout when zero.
	CallTimeout time.Duration
	// ExtraKeys are key ARNs to watch whatever FSx says (FSX_KEY_ARNS):
	// cross-account keys, or where FSx may not be read.
	ExtraKeys []string
	// NoDiscovery uses only ExtraKeys and never calls FSx (FSX_DISCOVERY=off).
	NoDiscovery bool
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	mu     sync.Mutex
	cached *Inventory
}

// Get returns the current inventory, listing FSx again when the cached one
// is older than the TTL. fresh reports whether FSx was called.
func (s *Source) Get(ctx context.Context) (inv *Inventory, fresh bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	ttl := s.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if s.cached != nil && !s.NoCache && now.Sub(s.cached.Taken) < ttl {
		return s.cached, false, nil
	}
	inv, err = s.list(ctx)
	if err != nil {
		return nil, true, err
	}
	inv.Taken = now
	s.cached = inv
	return inv, true, nil
}

// Refresh lists FSx again, whatever is cached, and caches the answer.
func (s *Source) Refresh(ctx context.Context) (*Inventory, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, err := s.list(ctx)
	if err != nil {
		return nil, err
	}
	inv.Taken = s.now()
	s.cached = inv
	return inv, nil
}

func (s *Source) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Source) list(ctx context.Context) (*Inventory, error) {
	inv := &Inventory{ByKey: map[string][]check.Resource{}, Listed: map[string]bool{}}
	for _, k := range s.ExtraKeys {
		if k = strings.TrimSpace(k); k != "" {
			inv.Listed[k] = true
			if _, ok := inv.ByKey[k]; !ok {
				inv.ByKey[k] = nil
			}
		}
	}
	if s.NoDiscovery {
		return inv, nil
	}
	if s.FSx == nil {
		return nil, fmt.Errorf("inventory: no FSx client and discovery is on")
	}
	// File systems, backups and caches are listed at the same time; keys
	// named by id or alias are resolved afterwards, once each.
	var (
		fss   []fsxtypes.FileSystem
		bks   []fsxtypes.Backup
		fcs   []fsxtypes.FileCache
		pages [3]int
		errs  [3]error
		wg    sync.WaitGroup
	)
	wg.Add(3)
	go func() {
		defer wg.Done()
		p := fsx.NewDescribeFileSystemsPaginator(s.FSx, &fsx.DescribeFileSystemsInput{},
			func(o *fsx.DescribeFileSystemsPaginatorOptions) { o.StopOnDuplicateToken = true })
		pages[0], errs[0] = s.pageAll(ctx, "fsx:DescribeFileSystems", p.HasMorePages, func(ctx context.Context) (bool, error) {
			page, err := p.NextPage(ctx)
			if err == nil {
				fss = append(fss, page.FileSystems...)
			}
			return page != nil && aws.ToString(page.NextToken) != "", err
		})
	}()
	go func() {
		defer wg.Done()
		p := fsx.NewDescribeBackupsPaginator(s.FSx, &fsx.DescribeBackupsInput{},
			func(o *fsx.DescribeBackupsPaginatorOptions) { o.StopOnDuplicateToken = true })
		pages[1], errs[1] = s.pageAll(ctx, "fsx:DescribeBackups", p.HasMorePages, func(ctx context.Context) (bool, error) {
			page, err := p.NextPage(ctx)
			if err == nil {
				bks = append(bks, page.Backups...)
			}
			return page != nil && aws.ToString(page.NextToken) != "", err
		})
	}()
	go func() {
		defer wg.Done()
		p := fsx.NewDescribeFileCachesPaginator(s.FSx, &fsx.DescribeFileCachesInput{},
			func(o *fsx.DescribeFileCachesPaginatorOptions) { o.StopOnDuplicateToken = true })
		pages[2], errs[2] = s.pageAll(ctx, "fsx:DescribeFileCaches", p.HasMorePages, func(ctx context.Context) (bool, error) {
			page, err := p.NextPage(ctx)
			if err == nil {
				fcs = append(fcs, page.FileCaches...)
			}
			return page != nil && aws.ToString(page.NextToken) != "", err
		})
	}()
	wg.Wait()
	inv.Calls += pages[0] + pages[1] + pages[2]
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}

	resolved := map[string]string{}
	add := func(keyID string, r check.Resource) error {
		inv.Resources++
		if keyID == "" {
			return nil // FSx-owned key (e.g. Lustre SCRATCH): nothing to watch
		}
		keyARN, err := s.resolve(ctx, keyID, resolved, &inv.Calls)
		if err != nil {
			return fmt.Errorf("resolve key %q of %s: %w", keyID, r.ID, err)
		}
		inv.ByKey[keyARN] = append(inv.ByKey[keyARN], r)
		return nil
	}
	for _, f := range fss {
		if err := add(aws.ToString(f.KmsKeyId), fileSystem(f)); err != nil {
			return nil, err
		}
	}
	for _, b := range bks {
		if err := add(aws.ToString(b.KmsKeyId), backup(b)); err != nil {
			return nil, err
		}
	}
	for _, c := range fcs {
		if err := add(aws.ToString(c.KmsKeyId), fileCache(c)); err != nil {
			return nil, err
		}
	}
	return inv, nil
}

func (s *Source) callTimeout() time.Duration {
	if s.CallTimeout > 0 {
		return s.CallTimeout
	}
	return DefaultCallTimeout
}

// pageAll reads the pages of one FSx operation, each call bounded by the
// call timeout, at most MaxPages of them. next reads one page and reports
// whether the service returned a next token. A paginator with
// StopOnDuplicateToken stops quietly on a repeated token; pageAll turns
// that into an error, since the listing is then incomplete. It returns the
// pages read.
func (s *Source) pageAll(ctx context.Context, call string, more func() bool, next func(context.Context) (bool, error)) (int, error) {
	pages := 0
	for more() {
		if pages == MaxPages {
			return pages, fmt.Errorf("%s: still returning a NextToken after %d pages: listing abandoned", call, MaxPages)
		}
		pages++
		callCtx, cancel := context.WithTimeout(ctx, s.callTimeout())
		token, err := next(callCtx)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				return pages, fmt.Errorf("%s: page %d: no answer within %s: %w", call, pages, s.callTimeout(), err)
			}
			return pages, fmt.Errorf("%s: page %d: %w", call, pages, err)
		}
		if token && !more() {
			return pages, fmt.Errorf("%s: page %d repeated the previous NextToken: listing abandoned", call, pages)
		}
	}
	return pages, nil
}

// resolve returns the ARN of a key FSx named by ARN, id or alias.
func (s *Source) resolve(ctx context.Context, keyID string, cache map[string]string, calls *int) (string, error) {
	if strings.HasPrefix(keyID, "arn:") && strings.Contains(keyID, ":key/") {
		return keyID, nil
	}
	if keyARN, ok := cache[keyID]; ok {
		return keyARN, nil
	}
	if s.KMS == nil {
		return "", fmt.Errorf("no KMS client to resolve it")
	}
	*calls++
	keyARN, err := keys.Resolve(ctx, s.KMS, keyID, keys.WithCallTimeout(s.callTimeout()))
	if err != nil {
		return "", err
	}
	cache[keyID] = keyARN
	return keyARN, nil
}

func fileSystem(f fsxtypes.FileSystem) check.Resource {
	return check.Resource{
		Type:           check.ResourceFileSystem,
		ID:             aws.ToString(f.FileSystemId),
		ARN:            aws.ToString(f.ResourceARN),
		FileSystemType: string(f.FileSystemType),
		Lifecycle:      string(f.Lifecycle),
		OwnerID:        aws.ToString(f.OwnerId),
		Region:         regionOf(aws.ToString(f.ResourceARN)),
	}
}

func backup(b fsxtypes.Backup) check.Resource {
	r := check.Resource{
		Type:      check.ResourceBackup,
		ID:        aws.ToString(b.BackupId),
		ARN:       aws.ToString(b.ResourceARN),
		Lifecycle: string(b.Lifecycle),
		OwnerID:   aws.ToString(b.OwnerId),
		Region:    regionOf(aws.ToString(b.ResourceARN)),
	}
	if b.FileSystem != nil {
		r.FileSystemType = string(b.FileSystem.FileSystemType)
	}
	return r
}

// fileCache is an Amazon File Cache; its FileCacheType (LUSTRE) goes where
// a file system's type would.
func fileCache(c fsxtypes.FileCache) check.Resource {
	return check.Resource{
		Type:           check.ResourceFileCache,
		ID:             aws.ToString(c.FileCacheId),
		ARN:            aws.ToString(c.ResourceARN),
		FileSystemType: string(c.FileCacheType),
		Lifecycle:      string(c.Lifecycle),
		OwnerID:        aws.ToString(c.OwnerId),
		Region:         regionOf(aws.ToString(c.ResourceARN)),
	}
}

// regionOf returns the region field of an ARN, or "".
func regionOf(s string) string {
	a, err := arn.Parse(s)
	if err != nil {
		return ""
	}
	return a.Region
}
