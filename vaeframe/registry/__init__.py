"""The plugin registry and its contract: what a plugin implements, and how it is found.

- ``hookspecs``: one hook per kind of component (the contract plugins implement);
- ``types``: the types plugins implement or receive (``GridData``, ``Progress``, ``Logger``);
- ``posterior``: what an objective sees of a batch (``Posterior``, ``DataFacts``);
- ``kinds``: the kinds of component and where each sits in a run file;
- ``manager``: entry-point discovery and the registry of components by kind and name;
- ``calls``: calling into a component, so that every failure names its plugin;
- ``declarations``: what components say about themselves (a schedule's period, a floor).

This is the lowest layer but for the foundation modules (``errors``, ``grids``,
``validators``): nothing here imports the rest of vaeframe, and nothing here imports torch.
"""
