"""The decoders' names, torch-free (the configuration schema lists them on every parse of the
Snakefile); :mod:`repgeom.decoders` implements them."""

#: decoder name → what it is (the ``evaluation.decoders`` config values)
DECODERS = {
    "svm": "exact minimiser of LinearSVC's objective (batched finite Newton)",
    "liblinear_dual": "LinearSVC(dual=True): the paper-era solver, stopped at tol",
    "liblinear_auto": "LinearSVC() of scikit-learn >= 1.5 (dual='auto': the primal solver here)",
    "ridge": "least-squares (ridge) classifier, unpenalised intercept",
}
#: decoders solved batched by :mod:`repgeom.decoders` (the others call scikit-learn per problem)
BATCHED = ("svm", "ridge")
