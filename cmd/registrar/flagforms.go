package main

import (
	"errors"

	"github.com/spf13/pflag"
)

// forms say, by flag type, what a value must look like: a value that
// does not parse is refused with this instead of the parser's own words
// ("time: invalid duration", "strconv.ParseInt: ...").
var forms = map[string]string{
	"duration": "use a duration such as 90s, 5m or 1h30m",
	"int":      "use a whole number, e.g. 8",
	"float64":  "use a number, e.g. 20 or -1",
	"bool":     "use true or false",
}

// formed is a flag value that says the form it expects when it cannot
// parse one.
type formed struct {
	pflag.Value
	form string
}

func (f formed) Set(s string) error {
	if err := f.Value.Set(s); err != nil {
		return errors.New(f.form)
	}
	return nil
}

// sayForms makes every flag of fs whose type forms lists say its form;
// pflag then refuses `--resync-period=abc` with `invalid
// argument "abc" for "--resync-period" flag: use a duration
// such as 90s, 5m or 1h30m`.
func sayForms(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if form, ok := forms[f.Value.Type()]; ok {
			f.Value = formed{Value: f.Value, form: form}
		}
	})
}
