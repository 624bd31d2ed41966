package kmsevent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The types in this file accept the loosely typed values seen in real
// records: booleans written as strings ("true"), numbers written as strings,
// dates in Java's toString style, and documents given as strings or objects.

// flexBool is a boolean written as true/false or "true"/"false".
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	s := string(data)
	if len(s) >= 2 && s[0] == '"' {
		s = s[1 : len(s)-1]
	}
	switch s {
	case "true":
		*b = true
	case "false", "null", "":
		*b = false
	default:
		return fmt.Errorf("%s is not a boolean", ClipBytes(data))
	}
	return nil
}

// flexInt is an integer written as a number or as a string of digits.
type flexInt int

func (n *flexInt) UnmarshalJSON(data []byte) error {
	s := string(data)
	if s == "null" {
		return nil
	}
	if len(s) >= 2 && s[0] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%s is not an integer", ClipBytes(data))
	}
	*n = flexInt(v)
	return nil
}

// document is a JSON document given either as a JSON string holding the
// document (how CloudTrail records PutKeyPolicy's policy) or inline.
type document string

func (d *document) UnmarshalJSON(data []byte) error {
	switch {
	case string(data) == "null":
		return nil
	case len(data) > 0 && data[0] == '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*d = document(s)
	default:
		var buf bytes.Buffer
		if err := json.Compact(&buf, data); err != nil {
			return err
		}
		*d = document(buf.String())
	}
	return nil
}

// looseTime keeps a date's raw JSON text; parseLooseTime reads it later so
// that an unreadable date becomes a warning rather than a lost record.
type looseTime json.RawMessage

func (t *looseTime) UnmarshalJSON(data []byte) error {
	if string(data) != "null" {
		*t = append((*t)[:0], data...)
	}
	return nil
}

// javaLayouts are the date styles CloudTrail uses inside requestParameters
// and responseElements ("Apr 12, 2021 6:58:30 PM", "Nov 2, 2021, 11:25:25 PM").
var javaLayouts = []string{
	"Jan 2, 2006 3:04:05 PM",
	"Jan 2, 2006, 3:04:05 PM",
	"Jan 2, 2006 15:04:05",
	"Jan 2, 2006, 15:04:05",
}

// parseLooseTime reads a date written as RFC 3339, in a Java style (UTC
// assumed, as everywhere in CloudTrail), or as Unix seconds or milliseconds.
// A 24-hour time with a stray AM/PM ("18:58:30 PM", seen in AWS's own
// examples) is read as the 24-hour time. Empty input gives the zero time.
func parseLooseTime(raw looseTime) (time.Time, error) {
	if len(raw) == 0 {
		return time.Time{}, nil
	}
	if raw[0] != '"' {
		n, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || n < 0 || n > 1e15 {
			return time.Time{}, fmt.Errorf("%s is not a date", ClipBytes(raw))
		}
		if n > 1e11 { // milliseconds
			return time.UnixMilli(int64(n)).UTC(), nil
		}
		return time.Unix(int64(n), 0).UTC(), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, err
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range javaLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	// "Apr 12, 2021 18:58:30 PM": drop the meridiem of a 24-hour time.
	if trimmed, ok := cutMeridiem(s); ok {
		for _, layout := range javaLayouts[2:] {
			if t, err := time.Parse(layout, trimmed); err == nil && t.Hour() >= 12 {
				return t, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("%s is not a date in a known layout", quote(s))
}

func cutMeridiem(s string) (string, bool) {
	if t, ok := strings.CutSuffix(s, " PM"); ok {
		return t, true
	}
	return strings.CutSuffix(s, " AM")
}
