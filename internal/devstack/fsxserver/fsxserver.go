// Package fsxserver is a stand-in for the Amazon FSx API, which has no
// local emulator. It speaks the FSx JSON 1.1 protocol (X-Amz-Target
// "AWSSimbaAPIService_v20180301.<Operation>") for DescribeFileSystems,
// DescribeBackups and DescribeFileCaches (Amazon File Cache), with NextToken
// paging, answering from an inventory of file systems, backups and caches
// written in the API's own JSON shapes.
package fsxserver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/fsxkms/fsxkms/internal/devstack/awsjson"
)

// Fault is an error injected into an operation; see Server.Inject.
type Fault = awsjson.Fault

// target is the X-Amz-Target prefix of the FSx API.
const target = "AWSSimbaAPIService_v20180301"

// DefaultPageSize is the page size when a request sets no MaxResults.
const DefaultPageSize = 50

// Inventory is what the server answers from. Each entry is one FileSystem,
// Backup or FileCache object exactly as DescribeFileSystems,
// DescribeBackups or DescribeFileCaches return it, so fields the server
// does not know pass through untouched.
type Inventory struct {
	FileSystems []json.RawMessage `json:"FileSystems"`
	Backups     []json.RawMessage `json:"Backups"`
	FileCaches  []json.RawMessage `json:"FileCaches,omitempty"`
}

// fileSystem is the part of a FileSystem the server checks and filters on.
type fileSystem struct {
	FileSystemId   string
	FileSystemType string
	CreationTime   *float64
}

// backup is the part of a Backup the server checks and filters on.
type backup struct {
	BackupId     string
	Type         string
	CreationTime *float64
	FileSystem   *fileSystem
	Volume       *struct{ VolumeId string }
}

// fileCache is the part of a FileCache the server checks.
type fileCache struct {
	FileCacheId   string
	FileCacheType string
	CreationTime  *float64
}

// indexed is an inventory entry with the fields it is looked up by.
type indexed struct {
	raw json.RawMessage
	fs  fileSystem
	bk  backup
	fc  fileCache
}

// entries are an inventory's entries, indexed.
type entries struct {
	fileSystems, backups, fileCaches []indexed
}

// ParseInventory decodes and checks an inventory: every file system needs
// a FileSystemId and a FileSystemType of WINDOWS, LUSTRE, ONTAP or OPENZFS,
// every backup a BackupId, every cache a FileCacheId and the FileCacheType
// LUSTRE (the only one), IDs must be unique, and CreationTime must be a
// number (epoch seconds) as on the wire.
func ParseInventory(data []byte) (Inventory, error) {
	var inv Inventory
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&inv); err != nil {
		return Inventory{}, fmt.Errorf("inventory: %w", err)
	}
	if _, err := index(inv); err != nil {
		return Inventory{}, err
	}
	return inv, nil
}

// LoadInventory reads and checks the inventory file at path.
func LoadInventory(path string) (Inventory, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Inventory{}, fmt.Errorf("inventory: %w", err)
	}
	inv, err := ParseInventory(b)
	if err != nil {
		return Inventory{}, fmt.Errorf("%s: %w", path, err)
	}
	return inv, nil
}

var fileSystemTypes = []string{"WINDOWS", "LUSTRE", "ONTAP", "OPENZFS"}

var fileCacheTypes = []string{"LUSTRE"}

func index(inv Inventory) (entries, error) {
	fss, bks, err := indexFSAndBackups(inv)
	if err != nil {
		return entries{}, err
	}
	seen := map[string]bool{}
	var fcs []indexed
	for i, raw := range inv.FileCaches {
		var fc fileCache
		if err := json.Unmarshal(raw, &fc); err != nil {
			return entries{}, fmt.Errorf("inventory: FileCaches[%d]: %w", i, err)
		}
		switch {
		case fc.FileCacheId == "":
			return entries{}, fmt.Errorf("inventory: FileCaches[%d]: no FileCacheId", i)
		case !slices.Contains(fileCacheTypes, fc.FileCacheType):
			return entries{}, fmt.Errorf("inventory: FileCaches[%d] (%s): FileCacheType %q is not one of %v", i, fc.FileCacheId, fc.FileCacheType, fileCacheTypes)
		case seen[fc.FileCacheId]:
			return entries{}, fmt.Errorf("inventory: FileCaches[%d]: duplicate FileCacheId %s", i, fc.FileCacheId)
		}
		seen[fc.FileCacheId] = true
		fcs = append(fcs, indexed{raw: raw, fc: fc})
	}
	return entries{fileSystems: fss, backups: bks, fileCaches: fcs}, nil
}

func indexFSAndBackups(inv Inventory) (fss, bks []indexed, err error) {
	seen := map[string]bool{}
	for i, raw := range inv.FileSystems {
		var fs fileSystem
		if err := json.Unmarshal(raw, &fs); err != nil {
			return nil, nil, fmt.Errorf("inventory: FileSystems[%d]: %w", i, err)
		}
		switch {
		case fs.FileSystemId == "":
			return nil, nil, fmt.Errorf("inventory: FileSystems[%d]: no FileSystemId", i)
		case !slices.Contains(fileSystemTypes, fs.FileSystemType):
			return nil, nil, fmt.Errorf("inventory: FileSystems[%d] (%s): FileSystemType %q is not one of %v", i, fs.FileSystemId, fs.FileSystemType, fileSystemTypes)
		case seen[fs.FileSystemId]:
			return nil, nil, fmt.Errorf("inventory: FileSystems[%d]: duplicate FileSystemId %s", i, fs.FileSystemId)
		}
		seen[fs.FileSystemId] = true
		fss = append(fss, indexed{raw: raw, fs: fs})
	}
	for i, raw := range inv.Backups {
		var bk backup
		if err := json.Unmarshal(raw, &bk); err != nil {
			return nil, nil, fmt.Errorf("inventory: Backups[%d]: %w", i, err)
		}
		switch {
		case bk.BackupId == "":
			return nil, nil, fmt.Errorf("inventory: Backups[%d]: no BackupId", i)
		case seen[bk.BackupId]:
			return nil, nil, fmt.Errorf("inventory: Backups[%d]: duplicate BackupId %s", i, bk.BackupId)
		}
		seen[bk.BackupId] = true
		bks = append(bks, indexed{raw: raw, bk: bk})
	}
	return fss, bks, nil
}

// Server is the FSx API stand-in. It is an http.Handler; create it with
// New. It is safe for concurrent use.
type Server struct {
	awsjson.Hooks

	mu      sync.RWMutex
	e       entries
	endless endlessPaging
}

// endlessPaging is the misbehaviour SetEndlessPaging sets up.
type endlessPaging struct {
	op     string // "" when paging is normal
	repeat bool
	pages  int
}

// New returns a server answering from inv.
func New(inv Inventory) (*Server, error) {
	s := &Server{}
	if err := s.SetInventory(inv); err != nil {
		return nil, err
	}
	return s, nil
}

// SetInventory replaces what the server answers from.
func (s *Server) SetInventory(inv Inventory) error {
	e, err := index(inv)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.e = e
	return nil
}

// SetEndlessPaging makes op (e.g. "DescribeBackups") behave as a service
// that never stops paging: every call of it is answered with an empty page
// and a NextToken, a new token each time or, with repeat, always the same
// one, whatever token the caller sends. The other operations page as usual.
// An empty op ends it.
func (s *Server) SetEndlessPaging(op string, repeat bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endless = endlessPaging{op: op, repeat: repeat}
}

// endlessPage returns the next page of an endless op, and whether op is
// one.
func (s *Server) endlessPage(op, list string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.endless.op != op {
		return nil, false
	}
	s.endless.pages++
	token := "endless"
	if !s.endless.repeat {
		token = fmt.Sprintf("endless-%d", s.endless.pages)
	}
	return map[string]any{list: []json.RawMessage{}, "NextToken": token}, true
}

// ServeHTTP answers DescribeFileSystems, DescribeBackups and
// DescribeFileCaches.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := awsjson.Operation(r, target)
	if r.Method != http.MethodPost || !ok {
		awsjson.WriteError(w, http.StatusBadRequest, "UnknownOperationException",
			fmt.Sprintf("expected POST with X-Amz-Target %s.<Operation>, got %s with X-Amz-Target %q", target, r.Method, r.Header.Get("X-Amz-Target")))
		return
	}
	if !s.Before(w, r, op) {
		return
	}
	d, ok := describeOps[op]
	if !ok {
		awsjson.WriteError(w, http.StatusBadRequest, "UnknownOperationException", "operation "+op+" is not supported by the local FSx server")
		return
	}
	s.describe(w, r, op, d)
}

// filter is a DescribeBackups filter.
type filter struct {
	Name   string
	Values []string
}

// describeRequest is the request of any of the Describe operations; each
// operation reads its own id list (and only DescribeBackups the filters).
type describeRequest struct {
	FileSystemIds []string
	BackupIds     []string
	FileCacheIds  []string
	Filters       []filter
	MaxResults    *int64
	NextToken     string
}

// describeOp is what sets one Describe operation apart: the resources it
// lists, how a request names some of them, the response field they are
// listed in and the error FSx answers for an unknown id.
type describeOp struct {
	list     string // response field, e.g. "FileSystems"
	notFound string // error type for an unknown id, e.g. "FileSystemNotFound"
	noun     string // the resource in that error's message, e.g. "File system"
	filtered bool   // whether the request's Filters apply (DescribeBackups)
	all      func(entries) []indexed
	ids      func(describeRequest) []string
	idOf     func(indexed) string
}

// describeOps are the operations the server answers, by name.
var describeOps = map[string]describeOp{
	"DescribeFileSystems": {
		list: "FileSystems", notFound: "FileSystemNotFound", noun: "File system",
		all:  func(e entries) []indexed { return e.fileSystems },
		ids:  func(in describeRequest) []string { return in.FileSystemIds },
		idOf: func(e indexed) string { return e.fs.FileSystemId },
	},
	"DescribeBackups": {
		list: "Backups", notFound: "BackupNotFound", noun: "Backup", filtered: true,
		all:  func(e entries) []indexed { return e.backups },
		ids:  func(in describeRequest) []string { return in.BackupIds },
		idOf: func(e indexed) string { return e.bk.BackupId },
	},
	"DescribeFileCaches": {
		list: "FileCaches", notFound: "FileCacheNotFound", noun: "File cache",
		all:  func(e entries) []indexed { return e.fileCaches },
		ids:  func(in describeRequest) []string { return in.FileCacheIds },
		idOf: func(e indexed) string { return e.fc.FileCacheId },
	},
}

// backupFilters are the filter names DescribeBackups accepts.
var backupFilters = []string{"file-system-id", "backup-type", "file-system-type", "volume-id", "data-repository-type", "file-cache-id", "file-cache-type"}

// describe answers the Describe operation op: the resources the request's
// ids pick (all when it names none), those passing its filters, the page
// its MaxResults and NextToken select.
func (s *Server) describe(w http.ResponseWriter, r *http.Request, op string, d describeOp) {
	var in describeRequest
	if !awsjson.Decode(w, r, op, "BadRequest", &in) {
		return
	}
	if page, ok := s.endlessPage(op, d.list); ok {
		awsjson.WriteResult(w, page)
		return
	}
	if !d.filtered {
		in.Filters = nil
	}
	for _, f := range in.Filters {
		if !slices.Contains(backupFilters, f.Name) {
			awsjson.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Filter name %q is not valid", f.Name))
			return
		}
	}
	s.mu.RLock()
	all := d.all(s.e)
	s.mu.RUnlock()
	picked, ok := byIDs(w, all, d.ids(in), d.idOf, d.notFound, d.noun)
	if !ok {
		return
	}
	selected := []json.RawMessage{}
	for _, e := range picked {
		if matches(e.bk, in.Filters) {
			selected = append(selected, e.raw)
		}
	}
	page, next, ok := paginate(w, selected, in.MaxResults, in.NextToken)
	if !ok {
		return
	}
	out := map[string]any{d.list: page}
	if next != "" {
		out["NextToken"] = next
	}
	awsjson.WriteResult(w, out)
}

// byIDs selects the resources whose ids are listed, in the order listed, or
// all of them when ids is empty. An unknown id is answered with notFound
// (e.g. FileSystemNotFound) naming the resource ("File system 'fs-1' does
// not exist."), as FSx does, and ok false.
func byIDs(w http.ResponseWriter, all []indexed, ids []string, idOf func(indexed) string, notFound, noun string) (picked []indexed, ok bool) {
	if len(ids) == 0 {
		return all, true
	}
	for _, id := range ids {
		i := slices.IndexFunc(all, func(e indexed) bool { return idOf(e) == id })
		if i < 0 {
			awsjson.WriteError(w, http.StatusBadRequest, notFound, noun+" '"+id+"' does not exist.")
			return nil, false
		}
		picked = append(picked, all[i])
	}
	return picked, true
}

// matches reports whether b passes every filter (values of one filter are
// alternatives).
func matches(b backup, filters []filter) bool {
	for _, f := range filters {
		var v string
		switch f.Name {
		case "file-system-id":
			if b.FileSystem != nil {
				v = b.FileSystem.FileSystemId
			}
		case "file-system-type":
			if b.FileSystem != nil {
				v = b.FileSystem.FileSystemType
			}
		case "backup-type":
			v = b.Type
		case "volume-id":
			if b.Volume != nil {
				v = b.Volume.VolumeId
			}
		}
		if !slices.Contains(f.Values, v) {
			return false
		}
	}
	return true
}

// paginate cuts items into the page a NextToken and MaxResults select. The
// token is the opaque, base64-encoded offset of the next item.
func paginate(w http.ResponseWriter, items []json.RawMessage, maxResults *int64, token string) (page []json.RawMessage, next string, ok bool) {
	size := int64(DefaultPageSize)
	if maxResults != nil {
		if *maxResults < 1 || *maxResults > 2147483647 {
			awsjson.WriteError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("MaxResults %d must be between 1 and 2147483647", *maxResults))
			return nil, "", false
		}
		size = *maxResults
	}
	start := 0
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "offset:"))
		if err != nil || err2 != nil || !strings.HasPrefix(string(b), "offset:") || n < 0 || n > len(items) {
			awsjson.WriteError(w, http.StatusBadRequest, "BadRequest", "NextToken "+strconv.Quote(token)+" is not valid")
			return nil, "", false
		}
		start = n
	}
	end := len(items)
	if int64(end-start) > size {
		end = start + int(size)
	}
	page = items[start:end]
	if page == nil {
		page = []json.RawMessage{}
	}
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	return page, next, true
}
