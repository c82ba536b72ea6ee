"""Re-simulating only the part of a placement that a change reaches (compiled).

A request's model sends it to one of the groups that host the model, and a group's queues
change only with the requests sent to it. So the groups and models joined through hosted
replicas (a *component*) run independently of the rest: after replicas are added on some
groups, the requests of models outside those groups' component have exactly the outcome
they had before. :func:`run_component` simulates the component's requests alone (the
others find no replica and pass as unserved, in a few instructions each) and takes the
rest's good counts from the run before; the total and the per-model counts are those of a
full run.
"""

from __future__ import annotations

import numpy as np

from placement._kernel import INF, _run_plain, njit


@njit(cache=True, nogil=True)
def connect(hosts, in_grp, in_mod):
    """Grow the groups flagged in ``in_grp`` to their component: flags in ``in_grp`` and
    ``in_mod`` every group and model joined to them through ``hosts`` (``in_mod`` is
    cleared first). Each group's row and each model's column is read once."""
    n_grp, n_m = hosts.shape
    in_mod[:] = False
    stack = np.empty(n_grp + n_m, dtype=np.int64)  # groups as g, models as n_grp + m
    top = 0
    for g in range(n_grp):
        if in_grp[g]:
            stack[top] = g
            top += 1
    while top > 0:
        top -= 1
        v = stack[top]
        if v < n_grp:
            for m in range(n_m):
                if hosts[v, m] and not in_mod[m]:
                    in_mod[m] = True
                    stack[top] = n_grp + m
                    top += 1
        else:
            m = v - n_grp
            for g in range(n_grp):
                if hosts[g, m] and not in_grp[g]:
                    in_grp[g] = True
                    stack[top] = g
                    top += 1


@njit(cache=True, nogil=True)
def _component_replicas(hosts, glat, in_mod, ptr, rgroup, rlat):
    """The replicas of the models in ``in_mod`` as sorted replica arrays (the others get
    none); returns their number."""
    n_grp, n_m = hosts.shape
    j = 0
    for m in range(n_m):
        ptr[m] = j
        if in_mod[m]:
            for g in range(n_grp):
                if hosts[g, m]:
                    rgroup[j] = g
                    rlat[j, :] = glat[g, m, :]
                    j += 1
    ptr[n_m] = j
    return j


@njit(cache=True, nogil=True)
def run_component(arrival, code, deadline, grp_nst, mode, admission, glat, hosts, in_mod,
                  counts, base_good, base_pm, ptr, rgroup, rlat, free, good_pm, rep_good, beat):
    """Good requests of ``hosts``, given that only the models in ``in_mod`` (a union of
    components) may fare differently from a run before whose total and per-model counts
    are ``base_good`` and ``base_pm``.

    ``good_pm`` gets every model's count. With ``beat`` >= 0 a run that cannot have more
    than ``beat`` good requests stops as soon as that shows and returns -1 (``good_pm``
    then partial); ``rep_good`` counts only the component's replicas.
    """
    n_req = arrival.shape[0]
    rest = base_good  # the good requests outside the component, unchanged
    inside = 0  # the component's requests
    for m in range(in_mod.shape[0]):
        if in_mod[m]:
            rest -= base_pm[m]
            inside += counts[m]
    if beat >= 0 and rest + inside <= beat:
        return -1
    n_rep = _component_replicas(hosts, glat, in_mod, ptr, rgroup, rlat)
    free[:, :] = -INF
    good_pm[:] = 0
    rep_good[:] = 0
    # requests outside the component pass as unserved: they count as not good here
    max_bad = n_req if beat < 0 else n_req + rest - beat - 1
    got = _run_plain(arrival, code, deadline, grp_nst, ptr, rgroup[:n_rep], rlat[:n_rep],
                     mode, admission, free, good_pm, rep_good, max_bad)
    if got < 0:
        return -1
    for m in range(in_mod.shape[0]):
        if not in_mod[m]:
            good_pm[m] = base_pm[m]
    return rest + got
