package scenario

import (
	"encoding/json"
	"fmt"
)

// Resource is one FSx file system or backup of the demo world.
type Resource struct {
	ID        string
	Backup    bool
	Type      string // WINDOWS, LUSTRE, ONTAP, OPENZFS
	Lifecycle string
	KeyID     string // "" for an FSx-owned key (Lustre SCRATCH)
}

// Resources lists the demo world's FSx resources.
func Resources() []Resource {
	return []Resource{
		{ID: "fs-0a1b2c3d4e5f60001", Type: "WINDOWS", Lifecycle: "AVAILABLE", KeyID: ProdKeyID},
		{ID: "fs-0a1b2c3d4e5f60002", Type: "LUSTRE", Lifecycle: "AVAILABLE", KeyID: ProdKeyID},
		{ID: "fs-0a1b2c3d4e5f60003", Type: "ONTAP", Lifecycle: "AVAILABLE", KeyID: ProdKeyID},
		{ID: "fs-0a1b2c3d4e5f60004", Type: "OPENZFS", Lifecycle: "AVAILABLE", KeyID: ProdKeyID},
		{ID: "fs-0a1b2c3d4e5f60005", Type: "LUSTRE", Lifecycle: "AVAILABLE"}, // SCRATCH: FSx-owned key
		{ID: "backup-0a1b2c3d4e5f60001", Backup: true, Type: "WINDOWS", Lifecycle: "AVAILABLE", KeyID: ProdKeyID},
		{ID: "backup-0a1b2c3d4e5f60002", Backup: true, Type: "ONTAP", Lifecycle: "AVAILABLE", KeyID: BackupKeyID},
	}
}

// InventoryJSON renders rs as an FSx inventory file for the devstack FSx
// server: {"FileSystems": [...], "Backups": [...]} in the shapes
// DescribeFileSystems and DescribeBackups return.
func InventoryJSON(rs []Resource) []byte {
	type obj = map[string]any
	inv := obj{"FileSystems": []obj{}, "Backups": []obj{}}
	created := 1717430400.0
	for i, r := range rs {
		fsID := r.ID
		if r.Backup {
			fsID = "fs-0a1b2c3d4e5f6f" + fmt.Sprintf("%03d", i)
		}
		fs := obj{
			"OwnerId":         Account,
			"CreationTime":    created + float64(i*3600),
			"FileSystemId":    fsID,
			"FileSystemType":  r.Type,
			"Lifecycle":       r.Lifecycle,
			"StorageCapacity": map[string]int{"WINDOWS": 32, "LUSTRE": 1200, "ONTAP": 1024, "OPENZFS": 64}[r.Type],
			"ResourceARN":     fmt.Sprintf("arn:aws:fsx:%s:%s:file-system/%s", Region, Account, fsID),
		}
		if r.KeyID != "" {
			fs["KmsKeyId"] = KeyARN(r.KeyID)
		}
		if !r.Backup {
			inv["FileSystems"] = append(inv["FileSystems"].([]obj), fs)
			continue
		}
		bk := obj{
			"BackupId":     r.ID,
			"Lifecycle":    r.Lifecycle,
			"Type":         "USER_INITIATED",
			"CreationTime": created + float64(i*3600),
			"OwnerId":      Account,
			"ResourceARN":  fmt.Sprintf("arn:aws:fsx:%s:%s:backup/%s", Region, Account, r.ID),
			"FileSystem":   fs,
		}
		if r.KeyID != "" {
			bk["KmsKeyId"] = KeyARN(r.KeyID)
		}
		inv["Backups"] = append(inv["Backups"].([]obj), bk)
	}
	b, err := json.MarshalIndent(inv, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("scenario: marshal inventory: %v", err)) // plain maps: cannot happen
	}
	return b
}
