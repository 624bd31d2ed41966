package fsxserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fsxkms/fsxkms/internal/devstack/fsxserver"
	"github.com/fsxkms/fsxkms/internal/testutil"
)

func newServer(t *testing.T) *fsxserver.Server {
	t.Helper()
	inv, err := fsxserver.LoadInventory("testdata/inventory.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := fsxserver.New(inv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// call sends one JSON 1.1 request to h and returns the status and body.
func call(h http.Handler, target, body string) (int, []byte) {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

const (
	describeFS      = "AWSSimbaAPIService_v20180301.DescribeFileSystems"
	describeBackups = "AWSSimbaAPIService_v20180301.DescribeBackups"
	describeCaches  = "AWSSimbaAPIService_v20180301.DescribeFileCaches"
	// token2 is the NextToken after the first two items.
	token2 = "b2Zmc2V0OjI"
)

func TestServeHTTP(t *testing.T) {
	tests := []struct {
		name, target, body string
		status             int
	}{
		{"all-file-systems", describeFS, `{}`, 200},
		{"page-1", describeFS, `{"MaxResults":2}`, 200},
		{"page-2", describeFS, `{"MaxResults":2,"NextToken":"` + token2 + `"}`, 200},
		{"max-results-int32-max", describeFS, `{"MaxResults":2147483647}`, 200},
		{"by-id", describeFS, `{"FileSystemIds":["fs-0a1b2c3d4e5f60004","fs-0a1b2c3d4e5f60002"]}`, 200},
		{"unknown-id", describeFS, `{"FileSystemIds":["fs-0a1b2c3d4e5f60001","fs-000000000000dead"]}`, 400},
		{"max-results-zero", describeFS, `{"MaxResults":0}`, 400},
		{"max-results-too-big", describeFS, `{"MaxResults":2147483648}`, 400},
		{"bad-token", describeFS, `{"NextToken":"nope"}`, 400},
		{"bad-json", describeFS, `{"MaxResults":`, 400},
		{"wrong-field-type", describeFS, `{"FileSystemIds":"fs-1"}`, 400},
		{"backups-all", describeBackups, `{}`, 200},
		{"backups-by-type", describeBackups, `{"Filters":[{"Name":"backup-type","Values":["USER_INITIATED"]}]}`, 200},
		{"backups-by-fs-and-type", describeBackups, `{"Filters":[{"Name":"file-system-id","Values":["fs-0a1b2c3d4e5f60004"]},{"Name":"backup-type","Values":["AUTOMATIC"]}]}`, 200},
		{"backups-unknown-id", describeBackups, `{"BackupIds":["backup-000000000000dead"]}`, 400},
		{"backups-bad-filter", describeBackups, `{"Filters":[{"Name":"owner","Values":["x"]}]}`, 400},
		{"caches-all", describeCaches, `{}`, 200},
		{"caches-page-1", describeCaches, `{"MaxResults":2}`, 200},
		{"caches-page-2", describeCaches, `{"MaxResults":2,"NextToken":"` + token2 + `"}`, 200},
		{"caches-by-id", describeCaches, `{"FileCacheIds":["fc-0a1b2c3d4e5f60003"]}`, 200},
		{"caches-unknown-id", describeCaches, `{"FileCacheIds":["fc-000000000000dead"]}`, 400},
		{"caches-bad-token", describeCaches, `{"NextToken":"nope"}`, 400},
		{"unknown-operation", "AWSSimbaAPIService_v20180301.CreateFileSystem", `{}`, 400},
		{"no-target", "", `{}`, 400},
	}
	s := newServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(s, tt.target, tt.body)
			if status != tt.status {
				t.Errorf("status = %d, want %d; body %s", status, tt.status, body)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, body, "", "  "); err != nil {
				t.Fatalf("answer is not JSON: %v: %s", err, body)
			}
			pretty.WriteByte('\n')
			testutil.Golden(t, filepath.Join("testdata", "golden", tt.name+".json"), pretty.Bytes())
		})
	}
}

func TestPagingVisitsEveryItemOnce(t *testing.T) {
	s := newServer(t)
	tests := []struct {
		target string
		want   []string // every id, in order
	}{
		{describeFS, []string{"fs-0a1b2c3d4e5f60001", "fs-0a1b2c3d4e5f60002", "fs-0a1b2c3d4e5f60003", "fs-0a1b2c3d4e5f60004", "fs-0a1b2c3d4e5f60005"}},
		{describeCaches, []string{"fc-0a1b2c3d4e5f60001", "fc-0a1b2c3d4e5f60002", "fc-0a1b2c3d4e5f60003"}},
	}
	for _, tt := range tests {
		for size := 1; size <= 6; size++ {
			var ids []string
			token := ""
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatalf("%s MaxResults %d: more than 10 pages", tt.target, size)
				}
				body := fmt.Sprintf(`{"MaxResults":%d,"NextToken":%q}`, size, token)
				status, b := call(s, tt.target, body)
				if status != 200 {
					t.Fatalf("%s MaxResults %d: status %d: %s", tt.target, size, status, b)
				}
				var out struct {
					FileSystems []struct{ FileSystemId string }
					FileCaches  []struct{ FileCacheId string }
					NextToken   string
				}
				if err := json.Unmarshal(b, &out); err != nil {
					t.Fatal(err)
				}
				if n := len(out.FileSystems) + len(out.FileCaches); n > size {
					t.Errorf("%s MaxResults %d: page of %d", tt.target, size, n)
				}
				for _, fs := range out.FileSystems {
					ids = append(ids, fs.FileSystemId)
				}
				for _, fc := range out.FileCaches {
					ids = append(ids, fc.FileCacheId)
				}
				if out.NextToken == "" {
					break
				}
				token = out.NextToken
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("%s MaxResults %d: visited %v, want %v", tt.target, size, ids, tt.want)
			}
		}
	}
}

func TestParseInventoryErrors(t *testing.T) {
	tests := []struct{ name, json, want string }{
		{"not-json", `{`, "inventory: unexpected EOF"},
		{"unknown-top-level", `{"Volumes":[]}`, `unknown field "Volumes"`},
		{"no-id", `{"FileSystems":[{"FileSystemType":"LUSTRE"}]}`, "FileSystems[0]: no FileSystemId"},
		{"bad-type", `{"FileSystems":[{"FileSystemId":"fs-1","FileSystemType":"EFS"}]}`, `FileSystems[0] (fs-1): FileSystemType "EFS" is not one of`},
		{"duplicate", `{"FileSystems":[{"FileSystemId":"fs-1","FileSystemType":"ONTAP"},{"FileSystemId":"fs-1","FileSystemType":"ONTAP"}]}`, "FileSystems[1]: duplicate FileSystemId fs-1"},
		{"string-time", `{"FileSystems":[{"FileSystemId":"fs-1","FileSystemType":"ONTAP","CreationTime":"2024-06-01T00:00:00Z"}]}`, "FileSystems[0]: json: cannot unmarshal string"},
		{"backup-no-id", `{"Backups":[{"Type":"AUTOMATIC"}]}`, "Backups[0]: no BackupId"},
		{"cache-no-id", `{"FileCaches":[{"FileCacheType":"LUSTRE"}]}`, "FileCaches[0]: no FileCacheId"},
		{"cache-bad-type", `{"FileCaches":[{"FileCacheId":"fc-1","FileCacheType":"WINDOWS"}]}`, `FileCaches[0] (fc-1): FileCacheType "WINDOWS" is not one of`},
		{"cache-duplicate", `{"FileCaches":[{"FileCacheId":"fc-1","FileCacheType":"LUSTRE"},{"FileCacheId":"fc-1","FileCacheType":"LUSTRE"}]}`, "FileCaches[1]: duplicate FileCacheId fc-1"},
		{"cache-string-time", `{"FileCaches":[{"FileCacheId":"fc-1","FileCacheType":"LUSTRE","CreationTime":"2024-06-01T00:00:00Z"}]}`, "FileCaches[0]: json: cannot unmarshal string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fsxserver.ParseInventory([]byte(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestHooks(t *testing.T) {
	s := newServer(t)
	s.Inject("DescribeBackups", fsxserver.Fault{Type: "ThrottlingException", Message: "slow down", Times: 2})
	for i, want := range []int{400, 400, 200} {
		if status, body := call(s, describeBackups, `{}`); status != want {
			t.Errorf("call %d: status %d, want %d: %s", i, status, want, body)
		}
	}
	if got := s.Calls()["DescribeBackups"]; got != 3 {
		t.Errorf("Calls = %d, want 3", got)
	}
	s.ResetCalls()
	if len(s.Calls()) != 0 {
		t.Errorf("Calls after ResetCalls = %v", s.Calls())
	}

	// With latency set, a call is held until the latency passes or the
	// caller gives up: a caller that gives up first gets no answer at all.
	s.SetLatency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", describeFS)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Body.Len() != 0 {
		t.Errorf("a call with an hour of latency set was answered at once: %s", rec.Body.Bytes())
	}
	s.SetLatency(0)
	if status, body := call(s, describeFS, `{}`); status != 200 {
		t.Errorf("after SetLatency(0): status %d: %s", status, body)
	}

	if err := s.SetInventory(fsxserver.Inventory{}); err != nil {
		t.Fatal(err)
	}
	if _, body := call(s, describeFS, `{}`); string(body) != `{"FileSystems":[]}` {
		t.Errorf("empty inventory answer = %s", body)
	}
	if _, body := call(s, describeCaches, `{}`); string(body) != `{"FileCaches":[]}` {
		t.Errorf("empty inventory answer = %s", body)
	}
}

// TestEndlessPaging: the operation set endless answers an empty page and
// a NextToken whatever token it is sent (fresh ones, or with repeat the
// same), the others page as usual, and an empty op ends it.
func TestEndlessPaging(t *testing.T) {
	s := newServer(t)
	// next makes one call and returns its NextToken and how many items
	// its page holds.
	next := func(target, body string) (token string, items int) {
		t.Helper()
		status, b := call(s, target, body)
		var out struct {
			FileSystems, Backups []json.RawMessage
			NextToken            string
		}
		if err := json.Unmarshal(b, &out); status != 200 || err != nil {
			t.Fatalf("status %d, %v: %s", status, err, b)
		}
		return out.NextToken, len(out.FileSystems) + len(out.Backups)
	}
	for _, repeat := range []bool{false, true} {
		s.SetEndlessPaging("DescribeBackups", repeat)
		var tokens []string
		for _, body := range []string{`{}`, `{"NextToken":"endless-1"}`, `{"NextToken":"not a token"}`} {
			tok, items := next(describeBackups, body)
			if items != 0 {
				t.Errorf("repeat=%v: an endless page holds %d items", repeat, items)
			}
			tokens = append(tokens, tok)
		}
		want := []string{"endless-1", "endless-2", "endless-3"}
		if repeat {
			want = []string{"endless", "endless", "endless"}
		}
		if !slices.Equal(tokens, want) {
			t.Errorf("repeat=%v: NextTokens %q, want %q", repeat, tokens, want)
		}
		if tok, items := next(describeFS, `{}`); tok != "" || items == 0 {
			t.Errorf("repeat=%v: DescribeFileSystems = %d items, NextToken %q; want every file system on one page", repeat, items, tok)
		}
	}
	s.SetEndlessPaging("", false)
	if tok, items := next(describeBackups, `{}`); tok != "" || items == 0 {
		t.Errorf("after SetEndlessPaging(\"\", false): %d backups, NextToken %q; want every backup on one page", items, tok)
	}
}

func Example() {
	inv, err := fsxserver.ParseInventory([]byte(`{"FileSystems":[{"FileSystemId":"fs-1","FileSystemType":"LUSTRE","KmsKeyId":"arn:aws:kms:us-east-1:111122223333:key/k1"}]}`))
	if err != nil {
		panic(err)
	}
	s, err := fsxserver.New(inv)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(s) // point AWS_ENDPOINT_URL_FSX at srv.URL
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AWSSimbaAPIService_v20180301.DescribeFileSystems")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, string(body))
	// Output: 200 OK {"FileSystems":[{"FileSystemId":"fs-1","FileSystemType":"LUSTRE","KmsKeyId":"arn:aws:kms:us-east-1:111122223333:key/k1"}]}
}
