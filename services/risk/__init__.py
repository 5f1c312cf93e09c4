"""The risk service: selectivity (lanes), documentary checks and examinations."""
