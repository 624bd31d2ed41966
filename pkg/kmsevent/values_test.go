package kmsevent

import (
	"strings"
	"testing"
	"time"
)

func TestParseLooseTime(t *testing.T) {
	tests := []struct {
		raw  string
		want string // RFC 3339, or "" for the zero time
		err  string
	}{
		{``, "", ""},
		{`"2026-03-02T10:15:00Z"`, "2026-03-02T10:15:00Z", ""},
		{`"Apr 12, 2021 18:58:30 PM"`, "2021-04-12T18:58:30Z", ""}, // 24-hour time with a stray PM (AWS docs)
		{`"Nov 2, 2021, 11:25:25 PM"`, "2021-11-02T23:25:25Z", ""},
		{`"Oct 21, 2024, 2:25:29 PM"`, "2024-10-21T14:25:29Z", ""},
		{`"Jan 1, 2019 12:00:00 AM"`, "2019-01-01T00:00:00Z", ""},
		{`"Jan 1, 2021 8:00:00 PM"`, "2021-01-01T20:00:00Z", ""},
		{`1767225600`, "2026-01-01T00:00:00Z", ""},
		{`1767225600000`, "2026-01-01T00:00:00Z", ""},
		{`"Apr 12, 2021 08:58:30 XM"`, "", "not a date in a known layout"},
		{`"next Tuesday"`, "", "not a date in a known layout"},
		{`true`, "", "is not a date"},
		{`-5`, "", "is not a date"},
	}
	for _, tt := range tests {
		got, err := parseLooseTime(looseTime(tt.raw))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseLooseTime(%s) error = %v, want %q", tt.raw, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseLooseTime(%s): %v", tt.raw, err)
			continue
		}
		var want time.Time
		if tt.want != "" {
			want, _ = time.Parse(time.RFC3339, tt.want)
		}
		if !got.Equal(want) {
			t.Errorf("parseLooseTime(%s) = %v, want %v", tt.raw, got, want)
		}
	}
}

func TestParseKeyRef(t *testing.T) {
	const region, account = "eu-west-1", "444455556666"
	tests := []struct {
		id         string
		key, alias string
		err        string
	}{
		{"6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b", "arn:aws:kms:eu-west-1:444455556666:key/6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b", "", ""},
		{"mrk-5e0c3b1a9d8f47a6b2c4d6e8f0a1b3c5", "arn:aws:kms:eu-west-1:444455556666:key/mrk-5e0c3b1a9d8f47a6b2c4d6e8f0a1b3c5", "", ""},
		{"arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/k", "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/k", "", ""},
		{"arn:aws-cn:kms:cn-north-1:111122223333:alias/a/b_c-d", "", "arn:aws-cn:kms:cn-north-1:111122223333:alias/a/b_c-d", ""},
		{"alias/fsx-prod", "", "alias/fsx-prod", ""},
		{"", "", "", "empty key identifier"},
		{"alias/", "", "", "not a valid alias name"},
		{"alias/has space", "", "", "not a valid alias name"},
		{"arn:aws:s3:::bucket", "", "", "is not a KMS ARN"},
		{"arn:aws:s3:eu-west-1:444455556666:bucket/x", "", "", "is not a KMS ARN"},
		{"arn:aws:kms:eu-west-1:444455556666", "", "", "is not an ARN"},
		{"arn:aws:kms:eu-west-1:444455556666:key/", "", "", "neither key/ID nor alias/NAME"},
		{"arn:aws:kms:eu-west-1:444455556666:grant/x", "", "", "neither key/ID nor alias/NAME"},
		{"arn:aws:kms:eu-west-1:444455556666:key/a:b", "", "", "neither key/ID nor alias/NAME"},
		{"arn:aws:kms:`us-west-2`:`account-id`:key/`id`", "", "", `region "` + "`us-west-2`" + `" is not valid`},
		{"arn:aws:kms:eu-west-1:account:key/id", "", "", `account "account" is not valid`},
		{"arn:AWS:kms:eu-west-1:444455556666:key/id", "", "", "partition"},
		{"arn:aws:kms::444455556666:key/id", "", "", "region"},
		{"not a key", "", "", "neither a key id, a key ARN nor an alias"},
	}
	for _, tt := range tests {
		got, err := parseKeyRef(tt.id, region, account)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseKeyRef(%q) error = %v, want %q", tt.id, err, tt.err)
			}
			continue
		}
		if err != nil || got.keyARN != tt.key || got.alias != tt.alias {
			t.Errorf("parseKeyRef(%q) = %+v, %v; want key %q alias %q", tt.id, got, err, tt.key, tt.alias)
		}
	}
	if _, err := parseKeyRef("6f1e2d3c", "", account); err == nil || !strings.Contains(err.Error(), "region") {
		t.Errorf("bare id without a region: error = %v", err)
	}
	if _, err := parseKeyRef("6f1e2d3c", region, "`account-id`"); err == nil || !strings.Contains(err.Error(), "account") {
		t.Errorf("bare id with a bad account: error = %v", err)
	}
}

func TestFlexValues(t *testing.T) {
	var b flexBool
	for in, want := range map[string]bool{`true`: true, `"true"`: true, `false`: false, `"false"`: false, `null`: false} {
		if err := b.UnmarshalJSON([]byte(in)); err != nil || bool(b) != want {
			t.Errorf("flexBool(%s) = %v, %v; want %v", in, b, err, want)
		}
	}
	if err := b.UnmarshalJSON([]byte(`1`)); err == nil {
		t.Error("flexBool(1): no error")
	}
	var n flexInt
	for in, want := range map[string]int{`7`: 7, `"30"`: 30} {
		if err := n.UnmarshalJSON([]byte(in)); err != nil || int(n) != want {
			t.Errorf("flexInt(%s) = %v, %v; want %v", in, n, err, want)
		}
	}
	for _, in := range []string{`"seven"`, `7.5`, `true`} {
		if err := n.UnmarshalJSON([]byte(in)); err == nil {
			t.Errorf("flexInt(%s): no error", in)
		}
	}
	var d document
	if err := d.UnmarshalJSON([]byte(`{"Version": "2012-10-17"}`)); err != nil || d != `{"Version":"2012-10-17"}` {
		t.Errorf("document(object) = %q, %v", d, err)
	}
	if err := d.UnmarshalJSON([]byte(`"{\"a\":1}"`)); err != nil || d != `{"a":1}` {
		t.Errorf("document(string) = %q, %v", d, err)
	}
}
