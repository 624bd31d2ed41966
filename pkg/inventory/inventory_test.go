package inventory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/fsx"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/internal/devstack/fsxserver"
	"github.com/fsxkms/fsxkms/internal/scenario"
	"github.com/fsxkms/fsxkms/pkg/check"
	"github.com/fsxkms/fsxkms/pkg/inventory"
)

func TestMain(m *testing.M) {
	os.Exit(devstack.Main(m, devstack.Options{KMSSeed: scenario.SeedYAML()}))
}

func source(t *testing.T, rs []scenario.Resource) (*inventory.Source, *time.Time) {
	t.Helper()
	st := devstack.Current()
	inv, err := fsxserver.ParseInventory(scenario.InventoryJSON(rs))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.FSx.SetInventory(inv); err != nil {
		t.Fatal(err)
	}
	st.FSx.ResetCalls()
	st.KMS.ResetCalls()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	return &inventory.Source{FSx: fsx.NewFromConfig(cfg), KMS: kms.NewFromConfig(cfg), Now: func() time.Time { return now }}, &now
}

func TestGroupsByKey(t *testing.T) {
	s, _ := source(t, scenario.Resources())
	inv, fresh, err := s.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !fresh || inv.Resources != len(scenario.Resources()) {
		t.Errorf("fresh=%v resources=%d, want a fresh listing of %d", fresh, inv.Resources, len(scenario.Resources()))
	}
	prod := inv.ByKey[scenario.KeyARN(scenario.ProdKeyID)]
	var ids []string
	for _, r := range prod {
		ids = append(ids, r.ID)
	}
	want := []string{"fs-0a1b2c3d4e5f60001", "fs-0a1b2c3d4e5f60002", "fs-0a1b2c3d4e5f60003", "fs-0a1b2c3d4e5f60004", "backup-0a1b2c3d4e5f60001"}
	if !slices.Equal(ids, want) {
		t.Errorf("resources on the prod key = %v, want %v", ids, want)
	}
	if got := inv.Keys(); len(got) != 2 {
		t.Errorf("keys = %v, want the 2 keys FSx uses (the SCRATCH file system has an FSx-owned key)", got)
	}
	b := inv.ByKey[scenario.KeyARN(scenario.BackupKeyID)]
	if len(b) != 1 || b[0].Type != "backup" || b[0].FileSystemType != "ONTAP" || b[0].OwnerID != scenario.Account || b[0].Region != scenario.Region {
		t.Errorf("backup key resources = %+v", b)
	}
}

// TestTTL: a warm inventory costs no FSx call until the TTL ends.
func TestTTL(t *testing.T) {
	s, now := source(t, scenario.Resources())
	ctx := context.Background()
	if _, _, err := s.Get(ctx); err != nil {
		t.Fatal(err)
	}
	calls := devstack.Current().FSx.Calls()
	*now = now.Add(4 * time.Minute)
	if _, fresh, _ := s.Get(ctx); fresh {
		t.Error("listed FSx again within the TTL")
	}
	if got := devstack.Current().FSx.Calls(); !maps.Equal(got, calls) {
		t.Errorf("FSx calls within the TTL: %v, before %v", got, calls)
	}
	*now = now.Add(2 * time.Minute)
	if _, fresh, _ := s.Get(ctx); !fresh {
		t.Error("did not list FSx again after the TTL")
	}
}

// TestPaging: every page of both listings is read.
func TestPaging(t *testing.T) {
	var rs []scenario.Resource
	for i := range 130 {
		rs = append(rs, scenario.Resource{ID: "fs-" + pad(i), Type: "OPENZFS", Lifecycle: "AVAILABLE", KeyID: scenario.ProdKeyID})
		rs = append(rs, scenario.Resource{ID: "backup-" + pad(i), Backup: true, Type: "OPENZFS", Lifecycle: "AVAILABLE", KeyID: scenario.BackupKeyID})
	}
	s, _ := source(t, rs)
	inv, _, err := s.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(inv.ByKey[scenario.KeyARN(scenario.ProdKeyID)]); n != 130 {
		t.Errorf("file systems = %d, want 130", n)
	}
	if n := len(inv.ByKey[scenario.KeyARN(scenario.BackupKeyID)]); n != 130 {
		t.Errorf("backups = %d, want 130", n)
	}
	calls := devstack.Current().FSx.Calls()
	if calls["DescribeFileSystems"] != 3 || calls["DescribeBackups"] != 3 || calls["DescribeFileCaches"] != 1 || inv.Calls != 7 {
		t.Errorf("calls %v (counted %d), want 3 pages of each and 1 (empty) page of caches", calls, inv.Calls)
	}
}

// fileCache renders one FileCache as DescribeFileCaches returns it.
func fileCache(id, keyID, lifecycle string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"FileCacheId": id, "FileCacheType": "LUSTRE", "FileCacheTypeVersion": "2.12", "Lifecycle": lifecycle,
		"OwnerId": scenario.Account, "CreationTime": 1718208000, "StorageCapacity": 1200, "KmsKeyId": keyID,
		"ResourceARN": "arn:aws:fsx:" + scenario.Region + ":" + scenario.Account + ":file-cache/" + id,
	})
	return b
}

// withCaches is the FSx inventory of rs plus caches.
func withCaches(t *testing.T, rs []scenario.Resource, caches ...json.RawMessage) fsxserver.Inventory {
	t.Helper()
	inv, err := fsxserver.ParseInventory(scenario.InventoryJSON(rs))
	if err != nil {
		t.Fatal(err)
	}
	inv.FileCaches = caches
	return inv
}

// TestFileCaches: Amazon File Caches join the inventory under their key, as
// "file-cache" resources, every page read; a cache that names its key by id
// is resolved like a file system.
func TestFileCaches(t *testing.T) {
	var caches []json.RawMessage
	for i := range 120 {
		caches = append(caches, fileCache(fmt.Sprintf("fc-0a1b2c3d4e5f6%04x", i), scenario.KeyARN(scenario.BackupKeyID), "AVAILABLE"))
	}
	caches = append(caches, fileCache("fc-0a1b2c3d4e5f6ffff", scenario.OtherKeyID, "CREATING"))
	s, _ := source(t, nil)
	if err := devstack.Current().FSx.SetInventory(withCaches(t, scenario.Resources(), caches...)); err != nil {
		t.Fatal(err)
	}
	inv, _, err := s.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := len(scenario.Resources()) + 121; inv.Resources != want {
		t.Errorf("resources = %d, want %d", inv.Resources, want)
	}
	var got []check.Resource
	for _, r := range inv.ByKey[scenario.KeyARN(scenario.BackupKeyID)] {
		if r.Type == check.ResourceFileCache {
			got = append(got, r)
		}
	}
	if len(got) != 120 {
		t.Fatalf("caches on the backup key = %d, want 120", len(got))
	}
	want := check.Resource{Type: "file-cache", ID: "fc-0a1b2c3d4e5f60000", FileSystemType: "LUSTRE", Lifecycle: "AVAILABLE",
		OwnerID: scenario.Account, Region: scenario.Region, ARN: "arn:aws:fsx:us-east-1:111122223333:file-cache/fc-0a1b2c3d4e5f60000"}
	if got[0] != want {
		t.Errorf("first cache = %+v, want %+v", got[0], want)
	}
	other := inv.ByKey[scenario.KeyARN(scenario.OtherKeyID)]
	if len(other) != 1 || other[0].ID != "fc-0a1b2c3d4e5f6ffff" || other[0].Lifecycle != "CREATING" {
		t.Errorf("cache named by key id: ByKey[other] = %+v", other)
	}
	if calls := devstack.Current().FSx.Calls(); calls["DescribeFileCaches"] != 3 {
		t.Errorf("DescribeFileCaches calls = %d, want 3 pages of 50", calls["DescribeFileCaches"])
	}
}

// TestFileCachesError: a failed DescribeFileCaches fails the listing, as a
// failed DescribeFileSystems does: a partial inventory would hide keys.
func TestFileCachesError(t *testing.T) {
	s, _ := source(t, scenario.Resources())
	devstack.Current().FSx.Inject("DescribeFileCaches", devstack.Fault{Type: "AccessDenied", Message: "not authorized to perform fsx:DescribeFileCaches"})
	defer devstack.Current().FSx.ClearFaults()
	_, _, err := s.Get(context.Background())
	if err == nil || !strings.Contains(err.Error(), "fsx:DescribeFileCaches") {
		t.Fatalf("err = %v, want the DescribeFileCaches error", err)
	}
}

// TestListed: keys named in ExtraKeys are marked Listed, with or without
// resources.
func TestListed(t *testing.T) {
	s, _ := source(t, scenario.Resources())
	extra := "arn:aws:kms:us-east-1:444455556666:key/abcd1234-12ab-34cd-56ef-1234567890ab"
	s.ExtraKeys = []string{extra, scenario.KeyARN(scenario.BackupKeyID)}
	inv, _, err := s.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !inv.Listed[extra] || !inv.Listed[scenario.KeyARN(scenario.BackupKeyID)] || inv.Listed[scenario.KeyARN(scenario.ProdKeyID)] {
		t.Errorf("Listed = %v, want the two extra keys only", inv.Listed)
	}
	if rs := inv.ByKey[scenario.KeyARN(scenario.BackupKeyID)]; len(rs) != 1 {
		t.Errorf("a listed key that FSx also reports lost its resources: %+v", rs)
	}
}

// TestResolvesIDsAndAliases: FSx may name a key by id or alias; the
// inventory keys are always ARNs.
func TestResolvesIDsAndAliases(t *testing.T) {
	raw := `{"FileSystems":[
	  {"FileSystemId":"fs-1","FileSystemType":"WINDOWS","Lifecycle":"AVAILABLE","OwnerId":"111122223333","CreationTime":1,"KmsKeyId":"` + scenario.ProdKeyID + `","ResourceARN":"arn:aws:fsx:us-east-1:111122223333:file-system/fs-1"},
	  {"FileSystemId":"fs-2","FileSystemType":"ONTAP","Lifecycle":"AVAILABLE","OwnerId":"111122223333","CreationTime":2,"KmsKeyId":"alias/fsx-prod","ResourceARN":"arn:aws:fsx:us-east-1:111122223333:file-system/fs-2"}],"Backups":[]}`
	inv, err := fsxserver.ParseInventory([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := source(t, nil)
	devstack.Current().FSx.SetInventory(inv)
	got, _, err := s.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rs := got.ByKey[scenario.KeyARN(scenario.ProdKeyID)]; len(rs) != 2 {
		t.Errorf("ByKey = %v, want both file systems under the prod key ARN", got.ByKey)
	}
}

func TestExtraKeysWithoutDiscovery(t *testing.T) {
	extra := "arn:aws:kms:us-east-1:444455556666:key/abcd1234-12ab-34cd-56ef-1234567890ab"
	s := &inventory.Source{ExtraKeys: []string{extra, " "}, NoDiscovery: true}
	inv, _, err := s.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := inv.ByKey[extra]; !ok || len(inv.ByKey) != 1 {
		t.Errorf("ByKey = %v, want only the extra key", inv.ByKey)
	}
}

func TestFSxErrorIsReturned(t *testing.T) {
	s, _ := source(t, scenario.Resources())
	devstack.Current().FSx.Inject("DescribeBackups", devstack.Fault{Type: "BadRequest", Message: "boom"})
	defer devstack.Current().FSx.ClearFaults()
	if _, _, err := s.Get(context.Background()); err == nil {
		t.Fatal("a failed DescribeBackups gave no error")
	}
}

func pad(i int) string {
	return string(rune('a'+i/100)) + string(rune('a'+i/10%10)) + string(rune('a'+i%10))
}
