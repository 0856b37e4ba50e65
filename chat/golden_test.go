package chat

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llamago/llamago/internal/testutil"
	"github.com/stretchr/testify/require"
)

// fixedNow is the clock the shared templates' expected renderings were made with.
func fixedNow() time.Time { return time.Date(2024, 7, 26, 12, 0, 0, 0, time.UTC) }

// goldenCase is one case of a shared template's JSON file: render variables plus the outcome.
type goldenCase struct {
	Input
	Expected *string `json:"-"`
	Raised   *string `json:"-"`
	Error    *string `json:"-"`
}

func (c *goldenCase) UnmarshalJSON(data []byte) error {
	if err := c.Input.UnmarshalJSON(data); err != nil {
		return err
	}
	for name, dst := range map[string]**string{"expected": &c.Expected, "raised": &c.Raised, "error": &c.Error} {
		if raw, ok := c.Extra[name]; ok {
			if err := json.Unmarshal(raw, dst); err != nil {
				return err
			}
			delete(c.Extra, name)
		}
	}
	return nil
}

// TestSharedTemplates renders every case of every template in ../shared/templates (the README there
// says how they were made) and wants each expected rendering byte for byte, and each raised message
// as a *RaiseError. Cases jinja2 itself cannot render ("error") are not scored.
func TestSharedTemplates(t *testing.T) {
	dir := testutil.Shared(t, "templates")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	require.NotEmpty(t, files, "no *.json cases in %s", dir)
	var passed, scored, skipped int
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			var f struct {
				Template string
				Cases    []goldenCase
			}
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(data, &f))
			if f.Template == "" {
				f.Template = name + ".jinja"
			}
			src, err := os.ReadFile(filepath.Join(dir, f.Template))
			require.NoError(t, err)
			tmpl, err := Compile(string(src))
			require.NoError(t, err)
			for i, c := range f.Cases {
				c.Now = fixedNow
				if c.Error != nil {
					skipped++
					continue
				}
				scored++
				got, err := tmpl.Render(c.Input)
				switch {
				case c.Raised != nil:
					var re *RaiseError
					if !errors.As(err, &re) {
						t.Errorf("case %d: want raise_exception(%q), got %q, error %v", i, *c.Raised, got, err)
						continue
					}
					if re.Message != *c.Raised {
						t.Errorf("case %d: raised %q, want %q", i, re.Message, *c.Raised)
						continue
					}
				case c.Expected != nil:
					if err != nil {
						t.Errorf("case %d: %v", i, err)
						continue
					}
					if got != *c.Expected {
						t.Errorf("case %d: rendering differs\n got: %q\nwant: %q", i, got, *c.Expected)
						continue
					}
				default:
					t.Errorf("case %d has no expected, raised or error", i)
					continue
				}
				passed++
			}
		})
	}
	t.Logf("shared templates: %d of %d scored cases pass (%d unscored error cases) in %d templates",
		passed, scored, skipped, len(files))
}
