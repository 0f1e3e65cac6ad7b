"""The cross-paper report (issue 15): the only package that may read all three papers' subpackages.

``spec`` validates the ``report:`` section of params.yaml (registry of paper items, claim rules);
``claims`` turns rules + metrics JSON into verdicts (pure functions); ``site`` builds the static
HTML report (Jinja2 index, nbconvert notebooks); ``report`` is the DVC stage's command line.
"""
