using TokenformerGen.Data;
using TokenformerGen.Modules;

namespace TokenformerGen.Scaling.Study;

/// <summary>
/// Runs a <see cref="StudyGrid"/> in this process, setting after setting, each in its resumable run folder inside one
/// study folder: what <c>study</c> does, for C# users. The same call over the same folder resumes every setting where it
/// stopped; a folder of another study is refused (<see cref="RunFolderException"/>).
/// </summary>
/// <param name="family">The family whose schedule to run.</param>
/// <param name="data">The batch source of a data seed (batches must be a pure function of seed and step, as <see cref="CorpusBatchSource"/>'s are).</param>
/// <param name="dataIdentity">What the data is, independent of where it lies (part of every folder's identity).</param>
/// <param name="options">The schedule's options; each setting replaces the budget scale and the seeds.</param>
/// <param name="grid">Scales and seeds.</param>
/// <param name="baselines">Baseline families, each trained in every setting at its progressive run's compute (in the setting's folder).</param>
public sealed class StudyRunner(FamilyRegistration family, Func<long, IBatchSource> data, string dataIdentity, ScheduleOptions options, StudyGrid grid,
                                IReadOnlyList<BaselineFamily>? baselines = null)
{
    /// <summary>Runs (or finds finished, or resumes) every setting in <paramref name="folder"/>.</summary>
    /// <param name="folder">The study folder.</param>
    /// <param name="observer">Hears each setting's run (null: nothing listens).</param>
    /// <param name="cancellation">Stops after the current step; the folder resumes from its last checkpoint.</param>
    /// <exception cref="RunFolderException">The folder, or a setting's folder, holds another study or run.</exception>
    public IReadOnlyList<SettingResult> Run(string folder, Func<StudySetting, IScheduleObserver?>? observer = null, CancellationToken cancellation = default)
    {
        using var claim = RunFolder.Claim(folder, StudyGrid.Identity(family, options, dataIdentity));
        return grid.Settings.Select(setting => RunSetting(setting, Path.Combine(folder, setting.FolderName), observer?.Invoke(setting), cancellation)).ToList();
    }

    /// <summary>Runs (or finds finished, or resumes) one setting in its run folder <paramref name="directory"/>.</summary>
    public SettingResult RunSetting(StudySetting setting, string directory, IScheduleObserver? observer = null, CancellationToken cancellation = default)
    {
        var settingOptions = setting.Apply(options);
        using var folder = RunFolder.Claim(directory, ScheduleRunner.Identity(family, settingOptions, dataIdentity));
        var batches = data(setting.Seeds.DataSeed);
        var runner = new ScheduleRunner(family, batches, settingOptions, observer, folder);
        var progressive = runner.RunProgressive(cancellation);
        var scratch = settingOptions.Scratch == ScratchBaseline.None ? null : runner.RunScratch(progressive, cancellation);
        var flops = runner.PlannedFlops;
        var references = (baselines ?? []).Select(b => b.Run(family, batches, dataIdentity, settingOptions, flops, directory, observer, cancellation)).ToList();
        return new SettingResult(setting, progressive, scratch, runner.LargestStage.Name, references);
    }
}
