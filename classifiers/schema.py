"""The schema checker of the classifier suite's configurations: :mod:`stemsim.schema`.

Kept so that ``from classifiers.schema import Key, check_section, ...`` goes on working; the
mechanism (and its one error format and number checks) lives in the base layer, shared with
the dataset spec and the bench file.
"""

from __future__ import annotations

from stemsim.schema import (  # noqa: F401  (re-exported)
    REQUIRED,
    Check,
    Key,
    KeyDoc,
    boolean,
    check_section,
    choice,
    defaults,
    describe,
    existing_path,
    fail,
    integer,
    is_finite,
    is_integer,
    is_number,
    new_path,
    number,
    optional,
    range_problem,
    section,
    stored_paths,
    string,
    string_list,
)
