// Package bench builds large FSx and KMS worlds on the local stack for the
// sweep's integration tests, its benchmark and the CLI's tests: keys created
// in local-kms, healthy or broken in each way the check knows, and an FSx
// inventory of file systems and backups spread over them.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/internal/devstack/fsxserver"
	"github.com/fsxkms/fsxkms/internal/scenario"
)

// Kind says how a key of a world is set up.
type Kind string

// Kinds of keys.
const (
	// Healthy: enabled, with the FSx-style policy of scenario.Policy.
	Healthy Kind = "healthy"
	// Disabled: healthy policy, key disabled.
	Disabled Kind = "disabled"
	// PendingDeletion: healthy policy, deletion scheduled in 7 days.
	PendingDeletion Kind = "pending-deletion"
	// NoDecrypt: the FSx statement no longer allows kms:Decrypt.
	NoDecrypt Kind = "no-decrypt"
	// DenyDecrypt: an explicit Deny of kms:Decrypt via FSx.
	DenyDecrypt Kind = "deny-decrypt"
	// Indeterminate: the FSx statement depends on a principal tag the
	// evaluator cannot know.
	Indeterminate Kind = "indeterminate"
	// OptionalDenied: the FSx statement no longer allows the optional
	// kms:Encrypt; the key stays compliant.
	OptionalDenied Kind = "optional-denied"
	// MonitorDenied: healthy key whose GetKeyPolicy answers AccessDenied
	// (an injected fault: local-kms enforces no policy).
	MonitorDenied Kind = "monitor-denied"
	// ReadFailed: healthy key whose DescribeKey fails with an error that is
	// neither AccessDenied nor NotFound (KMSInternalException, sent as a 400
	// so that the SDK does not spend seconds retrying it).
	ReadFailed Kind = "read-failed"
	// Deleted: in the FSx inventory, not in KMS.
	Deleted Kind = "deleted"
)

// Broken lists every kind but Healthy, in a stable order.
var Broken = []Kind{Disabled, PendingDeletion, NoDecrypt, DenyDecrypt, Indeterminate, OptionalDenied, MonitorDenied, ReadFailed, Deleted}

// Key is one key of a world.
type Key struct {
	ID    string
	ARN   string
	Alias string // "" for a Deleted key
	Kind  Kind
}

// Spec sizes a world.
type Spec struct {
	// Healthy is the number of healthy keys.
	Healthy int
	// EachBroken is the number of keys of each kind in Broken.
	EachBroken int
	// Resources is the number of FSx file systems and backups; every 25th
	// uses an FSx-owned key (no customer key), the others are spread over
	// the keys in turn.
	Resources int
	// AliasPrefix starts each key's alias (alias/<prefix>-<kind>-<n>);
	// default "fsx". Aliases must be unique in the account.
	AliasPrefix string
	// Workers bounds the KMS calls made at once while building; default 8.
	Workers int
}

// KMS is what Build needs of a KMS client.
type KMS interface {
	CreateKey(ctx context.Context, in *kms.CreateKeyInput, optFns ...func(*kms.Options)) (*kms.CreateKeyOutput, error)
	CreateAlias(ctx context.Context, in *kms.CreateAliasInput, optFns ...func(*kms.Options)) (*kms.CreateAliasOutput, error)
	DisableKey(ctx context.Context, in *kms.DisableKeyInput, optFns ...func(*kms.Options)) (*kms.DisableKeyOutput, error)
	ScheduleKeyDeletion(ctx context.Context, in *kms.ScheduleKeyDeletionInput, optFns ...func(*kms.Options)) (*kms.ScheduleKeyDeletionOutput, error)
}

// World is a set of keys and the FSx resources that use them.
type World struct {
	Keys      []Key
	Resources []scenario.Resource
}

// Build creates the keys of spec in KMS (account scenario.Account, Region
// scenario.Region, the stack's defaults) and spreads the resources over them.
func Build(ctx context.Context, api KMS, spec Spec) (*World, error) {
	if spec.AliasPrefix == "" {
		spec.AliasPrefix = "fsx"
	}
	if spec.Workers <= 0 {
		spec.Workers = 8
	}
	var kinds []Kind
	for range spec.Healthy {
		kinds = append(kinds, Healthy)
	}
	for _, k := range Broken {
		for range spec.EachBroken {
			kinds = append(kinds, k)
		}
	}
	w := &World{Keys: make([]Key, len(kinds))}
	n := map[Kind]int{}
	for i, kind := range kinds {
		n[kind]++
		w.Keys[i] = Key{Kind: kind, Alias: fmt.Sprintf("alias/%s-%s-%03d", spec.AliasPrefix, kind, n[kind])}
		if kind == Deleted {
			w.Keys[i].ID, w.Keys[i].Alias = randomKeyID(), ""
			w.Keys[i].ARN = scenario.KeyARN(w.Keys[i].ID)
		}
	}

	sem := make(chan struct{}, spec.Workers)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for i := range w.Keys {
		if w.Keys[i].Kind == Deleted {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := create(ctx, api, &w.Keys[i]); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}

	w.Spread(spec.Resources)
	return w, nil
}

// Spread replaces the world's resources with n file systems and backups:
// every 25th uses an FSx-owned key, the others use the keys in turn.
func (w *World) Spread(n int) {
	w.Resources = make([]scenario.Resource, 0, n)
	for i := range n {
		r := scenario.Resource{
			Backup:    i%2 == 1,
			Type:      []string{"WINDOWS", "LUSTRE", "ONTAP", "OPENZFS"}[(i/2)%4],
			Lifecycle: "AVAILABLE",
		}
		if r.Backup {
			r.ID = fmt.Sprintf("backup-%017x", i)
		} else {
			r.ID = fmt.Sprintf("fs-%017x", i)
		}
		if i%25 != 24 && len(w.Keys) > 0 {
			r.KeyID = w.Keys[(i-i/25)%len(w.Keys)].ID
		}
		w.Resources = append(w.Resources, r)
	}
}

// Uses returns the number of the world's resources that use key id.
func (w *World) Uses(id string) int {
	return count(w.Resources, func(r scenario.Resource) bool { return r.KeyID == id })
}

// create makes one key as its kind says and fills in its id and ARN.
func create(ctx context.Context, api KMS, k *Key) error {
	out, err := api.CreateKey(ctx, &kms.CreateKeyInput{
		Description: aws.String("fsxkms sweep world: " + string(k.Kind)),
		Policy:      aws.String(Policy(k.Kind)),
	})
	if err != nil {
		return fmt.Errorf("bench: create %s key: %w", k.Kind, err)
	}
	k.ID = aws.ToString(out.KeyMetadata.KeyId)
	k.ARN = aws.ToString(out.KeyMetadata.Arn)
	if want := scenario.KeyARN(k.ID); k.ARN != want {
		return fmt.Errorf("bench: key ARN %s is not %s: run the stack in account %s, Region %s", k.ARN, want, scenario.Account, scenario.Region)
	}
	if _, err := api.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(k.Alias), TargetKeyId: aws.String(k.ID)}); err != nil {
		return fmt.Errorf("bench: alias %s: %w", k.Alias, err)
	}
	switch k.Kind {
	case Disabled:
		if _, err := api.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(k.ID)}); err != nil {
			return fmt.Errorf("bench: disable %s: %w", k.ID, err)
		}
	case PendingDeletion:
		if _, err := api.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(k.ID), PendingWindowInDays: aws.Int32(7)}); err != nil {
			return fmt.Errorf("bench: schedule deletion of %s: %w", k.ID, err)
		}
	}
	return nil
}

// Policy returns the key policy of a key of kind k.
func Policy(k Kind) string {
	var doc map[string]any
	if err := json.Unmarshal([]byte(scenario.Policy(k == NoDecrypt)), &doc); err != nil {
		panic(fmt.Sprintf("bench: scenario policy: %v", err)) // a constant document: cannot happen
	}
	stmts := doc["Statement"].([]any)
	fsx := stmts[0].(map[string]any)
	switch k {
	case DenyDecrypt:
		doc["Statement"] = append(stmts, map[string]any{
			"Sid":       "DenyDecryptThroughFSx",
			"Effect":    "Deny",
			"Principal": map[string]any{"AWS": "*"},
			"Action":    "kms:Decrypt",
			"Resource":  "*",
			"Condition": map[string]any{"StringEquals": map[string]any{"kms:ViaService": "fsx." + scenario.Region + ".amazonaws.com"}},
		})
	case Indeterminate:
		fsx["Condition"].(map[string]any)["StringEquals"].(map[string]any)["aws:PrincipalTag/team"] = "storage"
	case OptionalDenied:
		var kept []any
		for _, a := range fsx["Action"].([]any) {
			if a != "kms:Encrypt" {
				kept = append(kept, a)
			}
		}
		fsx["Action"] = kept
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("bench: marshal policy: %v", err)) // plain maps: cannot happen
	}
	return string(b)
}

// InventoryJSON renders the world's resources as an FSx inventory file.
func (w *World) InventoryJSON() []byte { return scenario.InventoryJSON(w.Resources) }

// Apply loads the world into a running stack: the FSx inventory, no latency,
// the faults that make MonitorDenied and ReadFailed keys fail (and no other
// fault), and call counters at zero.
func (w *World) Apply(st *devstack.Stack) error {
	inv, err := fsxserver.ParseInventory(w.InventoryJSON())
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := st.FSx.SetInventory(inv); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	st.KMS.ClearFaults()
	st.FSx.ClearFaults()
	st.KMS.SetLatency(0)
	st.FSx.SetLatency(0)
	for _, k := range w.Keys {
		switch k.Kind {
		case MonitorDenied:
			st.KMS.Inject("GetKeyPolicy", devstack.Fault{Type: "AccessDeniedException", Match: k.ID,
				Message: "User: arn:aws:sts::" + scenario.Account + ":assumed-role/fsxkms-monitor/sweep is not authorized to perform: kms:GetKeyPolicy on resource: " + k.ARN})
		case ReadFailed:
			st.KMS.Inject("DescribeKey", devstack.Fault{Type: "KMSInternalException", Match: k.ID,
				Message: "injected internal error for " + k.ID})
		}
	}
	st.KMS.ResetCalls()
	st.FSx.ResetCalls()
	return nil
}

// Count returns the number of keys of kind k.
func (w *World) Count(k Kind) int {
	return count(w.Keys, func(key Key) bool { return key.Kind == k })
}

// count returns the number of the elements of s that match.
func count[T any](s []T, match func(T) bool) int {
	n := 0
	for _, e := range s {
		if match(e) {
			n++
		}
	}
	return n
}

// ByARN returns the world's key with the given ARN.
func (w *World) ByARN(arn string) (Key, bool) {
	for _, k := range w.Keys {
		if k.ARN == arn {
			return k, true
		}
	}
	return Key{}, false
}

// randomKeyID returns a key id in the UUID form KMS uses.
func randomKeyID() string {
	var b [16]byte
	rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
