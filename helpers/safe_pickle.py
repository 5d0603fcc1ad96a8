"""Unpickling restricted to an allow-list of types, so a model file cannot run code.

Unpickling calls whatever the file names: ``os.system``, ``builtins.eval``,
any import. A pickle reaches code only through the globals it names, and
every global goes through ``Unpickler.find_class``, so ``loads`` below hands
out only:

- classes listed by module and name (numpy arrays, dtypes and scalar types;
  the scikit-learn estimators, transformers and their fitted internals that
  the suite's churn and risk pipelines contain; a few plain stdlib data types);
- the suite's own model classes, in any ``helpers`` subpackage (the package
  may move modules; the class names stay);
- a short list of named reconstruction functions (numpy's array and scalar
  rebuilders, numpy.random's generator constructors, Cython's unpickler of
  ``SeedSequence``) and ``copyreg._reconstructor``, which is checked to
  rebuild only an allowed class.

The allow-list is checked on the *names*, before any import: importing a
module runs its code (``helpers.__main__`` starts the command line). Every
allowed class name must resolve to a class, never to a function that could
call something. Scikit-learn's modules also hold functions (its public ones
can be handed a callable), so its entries are listed class by class rather
than module by module. Listed classes take part in unpickling through their
constructors and ``__setstate__``, which store or rebuild data and call
nothing the file chooses.

A pickle can also set attributes on a class object it names (``BUILD`` on the
class itself), which would change that class for the whole process. ``loads``
snapshots each allowed class's attributes and, if a load changed them,
restores them and refuses the file.

What this does not stop: a tampered file built from allowed types can still
hold wrong numbers, or ask for a huge array (memory, not code).
"""

from __future__ import annotations

import copyreg
import importlib
import io
import pickle

__all__ = ["UntrustedPickleError", "allowed_globals", "loads"]


class UntrustedPickleError(pickle.UnpicklingError):
    """A pickle refers to a global outside the allow-list (which was not run), or changed a class.

    Attributes:
        global_name: the refused ``module.name`` (or the changed class attributes).
    """

    def __init__(self, message: str, global_name: str):
        super().__init__(message)
        self.global_name = global_name


def _classes(module: str, *names: str) -> set[tuple[str, str]]:
    return {(module, name) for name in names}


_NUMPY_SCALAR_TYPES = (
    "bool", "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "longdouble", "complex64", "complex128", "str_",
    "datetime64", "timedelta64",
)

_ALLOWED_CLASSES: frozenset[tuple[str, str]] = frozenset(
    _classes("numpy", "ndarray", "dtype", *_NUMPY_SCALAR_TYPES)
    | _classes("numpy.random._generator", "Generator")
    | _classes("numpy.random.mtrand", "RandomState")
    | _classes("numpy.random._pcg64", "PCG64")
    | _classes("numpy.random._mt19937", "MT19937")
    | _classes("numpy.random.bit_generator", "SeedSequence")
    # scikit-learn: what helpers' churn and risk pipelines contain once fitted.
    | _classes("sklearn.pipeline", "Pipeline")
    | _classes("sklearn.compose._column_transformer", "ColumnTransformer")
    | _classes("sklearn.preprocessing._encoders", "OneHotEncoder")
    | _classes("sklearn.preprocessing._data", "StandardScaler")
    | _classes("sklearn.preprocessing._label", "LabelEncoder")
    # The fitted form of a ColumnTransformer's "passthrough" (func=None).
    | _classes("sklearn.preprocessing._function_transformer", "FunctionTransformer")
    | _classes("sklearn.linear_model._logistic", "LogisticRegression")
    | _classes("sklearn.ensemble._hist_gradient_boosting.gradient_boosting", "HistGradientBoostingClassifier")
    | _classes("sklearn.ensemble._hist_gradient_boosting.binning", "_BinMapper")
    | _classes("sklearn.ensemble._hist_gradient_boosting.predictor", "TreePredictor")
    | _classes("sklearn._loss.loss", "HalfBinomialLoss")
    | _classes("sklearn._loss._loss", "CyHalfBinomialLoss")
    | _classes("sklearn._loss.link", "LogitLink", "Interval")
    | _classes("sklearn.calibration", "CalibratedClassifierCV", "_CalibratedClassifier", "_SigmoidCalibration")
    | _classes("sklearn.isotonic", "IsotonicRegression")
    | _classes("sklearn.frozen._frozen", "FrozenEstimator")
    # Plain data types of the standard library.
    | _classes("builtins", "object", "slice", "set", "frozenset", "complex", "bytearray")
    | _classes("collections", "OrderedDict")
    | _classes("datetime", "date", "datetime", "time", "timedelta", "timezone")
    | _classes("decimal", "Decimal")
)

# Functions that only rebuild data. numpy 1.x wrote numpy.core, numpy 2 numpy._core.
_ALLOWED_FUNCTIONS: frozenset[tuple[str, str]] = frozenset(
    _classes("numpy._core.multiarray", "_reconstruct", "scalar")
    | _classes("numpy.core.multiarray", "_reconstruct", "scalar")
    | _classes("numpy._core.numeric", "_frombuffer")
    | _classes("numpy.core.numeric", "_frombuffer")
    | _classes("numpy.random._pickle", "__generator_ctor", "__bit_generator_ctor", "__randomstate_ctor")
    | _classes("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence")
)

_RECONSTRUCTOR = ("copyreg", "_reconstructor")

# The suite's model classes, by their full module path (``helpers.__main__``,
# which runs the command line when imported, can never match).
_SUITE_CLASSES: frozenset[tuple[str, str]] = frozenset(
    _classes("helpers.models.churn_model", "ChurnModel") | _classes("helpers.models.risk_model", "RiskModel")
    # The time-to-churn curve both models wrap, its hazard candidates and calibration.
    | _classes("helpers.models.time_to_churn", "TimeToChurnCurve")
    | _classes("helpers.models.hazard", "BoostedHazard", "LogisticHazard", "BaseRateHazard", "RecencyHazard",
               "HazardCalibration")
)


def allowed_globals() -> list[str]:
    """Every global a model pickle may name, as ``module.name``."""
    listed = _ALLOWED_CLASSES | _ALLOWED_FUNCTIONS | {_RECONSTRUCTOR} | _SUITE_CLASSES
    return sorted(f"{module}.{name}" for module, name in listed)


def _is_suite_class(module: str, name: str) -> bool:
    return (module, name) in _SUITE_CLASSES


class _RestrictedUnpickler(pickle.Unpickler):
    """A pickle.Unpickler whose find_class hands out allowed globals only."""

    def __init__(self, file: io.BytesIO):
        super().__init__(file)
        # Attributes of each class handed out, as they were before the load.
        self.class_attributes: dict[type, dict[str, object]] = {}

    def find_class(self, module: str, name: str) -> object:
        key = (module, name)
        # Decided on the names alone: nothing is imported for a refused global.
        if key == _RECONSTRUCTOR:
            return self._checked_reconstructor
        if key in _ALLOWED_FUNCTIONS:
            return _resolve(module, name)
        if key not in _ALLOWED_CLASSES and not _is_suite_class(module, name):
            raise UntrustedPickleError(
                f"it names {module}.{name}, which is not on the allow-list of model types", f"{module}.{name}"
            )
        found = _resolve(module, name)
        if not isinstance(found, type):
            raise UntrustedPickleError(f"it names {module}.{name}, which is not a class", f"{module}.{name}")
        self.class_attributes.setdefault(found, dict(vars(found)))
        return found

    def _checked_reconstructor(self, cls: object, base: object, state: object) -> object:
        # copyreg._reconstructor(cls, base, state) calls base.__new__(cls, state)
        # (and base.__init__ for a non-object base): both must be allowed classes.
        for argument in (cls, base):
            if not isinstance(argument, type) or argument not in self.class_attributes:
                raise UntrustedPickleError(
                    f"it calls copyreg._reconstructor on {argument!r}, which is not an allowed class",
                    "copyreg._reconstructor",
                )
        return copyreg._reconstructor(cls, base, state)


def _resolve(module: str, name: str) -> object:
    # Listed names are plain attributes (no dots), looked up without pickle's
    # dotted-path walk.
    return getattr(importlib.import_module(module), name)


_MISSING = object()


def _restore_changed_classes(class_attributes: dict[type, dict[str, object]]) -> list[str]:
    """Undo attribute changes a load made to allowed classes; name what was changed."""
    changed = []
    for cls, before in class_attributes.items():
        after = dict(vars(cls))
        names = [key for key in before.keys() | after.keys() if before.get(key, _MISSING) is not after.get(key, _MISSING)]
        for key in sorted(names):
            changed.append(f"{cls.__module__}.{cls.__qualname__}.{key}")
            if key in before:
                setattr(cls, key, before[key])
            else:
                delattr(cls, key)
    return changed


def loads(data: bytes) -> object:
    """Unpickle ``data``, building only allowed types.

    Args:
        data: the pickle's bytes.

    Returns:
        The unpickled object.

    Raises:
        UntrustedPickleError: the pickle names a global outside the allow-list
            (nothing it names is imported or called), or it changed an allowed
            class (the change is undone).
        pickle.UnpicklingError, and whatever an allowed type raises: the data
            is corrupt or was written by other library versions.
    """
    unpickler = _RestrictedUnpickler(io.BytesIO(data))
    try:
        loaded = unpickler.load()
    finally:
        changed = _restore_changed_classes(unpickler.class_attributes)
    if changed:
        raise UntrustedPickleError(f"it changed class attributes {', '.join(changed)} (now restored)", changed[0])
    return loaded
