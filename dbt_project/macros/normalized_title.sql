{#
    The part of an event title that stays the same from one instance of a series to the next:
    lower case, without numbers ("#41", "2026", "3rd"), month names and punctuation, spaces
    collapsed. "Python Meetup #41" and "Python Meetup #42 " both give "python meetup".
#}
{% macro normalized_title(column) -%}
    nullif(trim(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
        lower({{ column }}),
        '[0-9]+(st|nd|rd|th)?', ' ', 'g'),
        '\m(january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\M', ' ', 'g'),
        '[^[:alpha:]]+', ' ', 'g'),
        ' +', ' ', 'g')), '')
{%- endmacro %}
